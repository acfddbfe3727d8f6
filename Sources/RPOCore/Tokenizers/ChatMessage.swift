// A chat message (role and text): what a chat template renders (Sampling/ChatTemplate.swift) and what the
// judges send (Judging/JudgePrompts.swift, APIJudge.swift).
import Foundation

/// One chat message.
public struct ChatMessage: Sendable, Equatable {
    public var role: String
    public var content: String
    public init(role: String, content: String) { self.role = role; self.content = content }
}
