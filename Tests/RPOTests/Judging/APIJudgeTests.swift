// The API judge against a real HTTP server on 127.0.0.1, scripted to answer correctly, slowly, with 429 then
// success, with 500s, with malformed JSON, with an unparseable answer, to hang and to drop the connection:
// each case ends in the right reply, with its attempts counted, no sooner than its deadlines and backoffs
// allow. Wall-clock upper bounds are asserted where the client has a process to itself
// (JudgeCLITests.deadlinesHoldInTheTool): in this process, other suites' long synchronous tests can occupy
// every thread of Swift's cooperative pool (one per core) for seconds, so here they only tell a deadline from
// a hang.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools

@Suite(.serialized) struct APIJudgeTests {
    static let key = "sk-test-SECRET-0123456789"

    /// Short timeouts and backoffs, so that every case takes well under a second.
    static func options(_ server: TestHTTPServer?, port: Int? = nil, timeout: Double = 1, retries: Int = 2) -> APIJudgeOptions {
        var o = APIJudgeOptions()
        o.baseURL = server?.baseURL ?? "http://127.0.0.1:\(port!)/v1"
        o.model = "judge-model"
        o.apiKey = APIKey(key)
        o.timeout = timeout
        o.retries = retries
        o.backoff = 0.05
        o.maxBackoff = 0.2
        o.concurrency = 4
        return o
    }

    static func request(_ index: Int = 0) throws -> JudgeRequest {
        let t = try JudgeTemplate(task: .dialogue)
        return JudgeRequest(index: index, id: "r\(index)", pass: 0,
                            messages: t.messages(prompt: "\n<|user|>\nHi\n<|assistant|>\n", first: "Hello.", second: "Go away."),
                            template: t)
    }

    static func timed<T>(_ body: () async throws -> T) async rethrows -> (T, Double) {
        let start = Date()
        let r = try await body()
        return (r, Date().timeIntervalSince(start))
    }

    @Test func correctAnswerAndTheOfficialRequest() async throws {
        let server = try TestHTTPServer { _, _ in .respond(status: 200, body: TestHTTPServer.completion("Response 2")) }
        let judge = try APIJudge(options: Self.options(server))
        let reply = try await judge.judge(try Self.request())
        #expect(reply.raw == "Response 2" && reply.error == nil && reply.attempts == 1)
        let r = try #require(server.requests.first)
        #expect(r.method == "POST" && r.path == "/v1/chat/completions")
        #expect(r.headers["authorization"] == "Bearer \(Self.key)")
        #expect(r.headers["content-type"] == "application/json")
        // compare.py:229-235: model, messages, temperature 0, max_tokens 10, seed.
        let body = try #require(r.json)
        #expect(body.keys == ["model", "messages", "temperature", "max_tokens", "seed"])
        #expect(body["model"] == .string("judge-model") && body["temperature"] == .int(0))
        #expect(body["max_tokens"] == .int(10) && body["seed"] == .int(0))
        let messages = try Self.request().messages
        #expect(r.contents.count == 2 && zip(r.contents, messages.map(\.content)).allSatisfy { sameUTF8($0, $1) })
    }

    @Test func slowAnswerWithinTheTimeout() async throws {
        let server = try TestHTTPServer { _, _ in .respond(status: 200, body: TestHTTPServer.completion("Response 1"), delay: 0.3) }
        let (reply, t) = try await Self.timed { try await APIJudge(options: Self.options(server, timeout: 1)).judge(try Self.request()) }
        #expect(reply.raw == "Response 1" && reply.attempts == 1)
        #expect(t >= 0.3 && reply.seconds >= 0.3)
    }

    @Test func answerSlowerThanTheTimeoutIsRetriedThenFails() async throws {
        let server = try TestHTTPServer { _, _ in .respond(status: 200, body: TestHTTPServer.completion("Response 1"), delay: 0.6) }
        let (reply, t) = try await Self.timed { try await APIJudge(options: Self.options(server, timeout: 0.25, retries: 1)).judge(try Self.request()) }
        #expect(reply.raw == nil && reply.attempts == 2)
        #expect(reply.error?.hasPrefix("timeout") == true, "\(reply.error ?? "")")
        // Two deadlines of 0.25 s and one backoff of at most 0.05 s.
        // Upper bounds only guard against an unbounded wait: the suites run in parallel with CPU-heavy ones, so
        // wall time can stretch many times; the attempt counts and errors prove each deadline cut its attempt.
        #expect(t >= 0.5 && t < 20, "\(t) s")
        #expect(server.requests.count == 2)
    }

    @Test func rateLimitThenSuccessHonoursRetryAfter() async throws {
        let server = try TestHTTPServer { n, _ in
            n == 0 ? .respond(status: 429, headers: [("retry-after-ms", "300")], body: #"{"error":{"message":"Rate limit reached"}}"#)
                   : .respond(status: 200, body: TestHTTPServer.completion("Response 1"))
        }
        let (reply, t) = try await Self.timed { try await APIJudge(options: Self.options(server)).judge(try Self.request()) }
        #expect(reply.raw == "Response 1" && reply.error == nil && reply.attempts == 2)
        // The server asked for 300 ms, more than the 50 ms backoff: the wait honours it.
        #expect(t >= 0.3, "\(t) s")
    }

    @Test func retryAfterInSecondsAndServerErrorsUntilSuccess() async throws {
        let server = try TestHTTPServer { n, _ in
            n < 2 ? .respond(status: n == 0 ? 503 : 500, headers: [("Retry-After", "0")], body: "upstream overloaded")
                  : .respond(status: 200, body: TestHTTPServer.completion("Response 2"))
        }
        let reply = try await APIJudge(options: Self.options(server, retries: 2)).judge(try Self.request())
        #expect(reply.raw == "Response 2" && reply.attempts == 3)
    }

    @Test func persistentServerErrorsFailAfterTheRetries() async throws {
        let server = try TestHTTPServer { _, _ in .respond(status: 500, body: #"{"error":{"message":"The server had an error"}}"#) }
        var o = Self.options(server, retries: 3)
        o.jitter = false
        let (reply, t) = try await Self.timed { try await APIJudge(options: o).judge(try Self.request()) }
        #expect(reply.raw == nil && reply.attempts == 4)
        #expect(reply.error == "HTTP 500: The server had an error (4 attempts)")
        // Backoffs without jitter: 0.05, 0.1, 0.2 (capped at 0.2) = 0.35 s.
        // Upper bounds only guard against an unbounded wait: the suites run in parallel with CPU-heavy ones, so
        // wall time can stretch many times; the attempt counts and errors prove each deadline cut its attempt.
        #expect(t >= 0.35 && t < 20, "\(t) s")
    }

    @Test func malformedJSONIsAFailureWithoutRetry() async throws {
        let server = try TestHTTPServer { _, _ in .respond(status: 200, body: #"{"choices": [{"message": {"content": "Resp"#) }
        let reply = try await APIJudge(options: Self.options(server)).judge(try Self.request())
        #expect(reply.raw == nil && reply.attempts == 1)
        #expect(reply.error?.hasPrefix("malformed response") == true, "\(reply.error ?? "")")
        let noChoices = try TestHTTPServer { _, _ in .respond(status: 200, body: #"{"object": "chat.completion"}"#) }
        let r2 = try await APIJudge(options: Self.options(noChoices)).judge(try Self.request())
        #expect(r2.error?.contains("no choices[0].message") == true)
        let nullContent = try TestHTTPServer { _, _ in .respond(status: 200, body: #"{"choices":[{"message":{"content":null},"finish_reason":"length"}]}"#) }
        let r3 = try await APIJudge(options: Self.options(nullContent)).judge(try Self.request())
        #expect(r3.error == "the judge returned no text (finish_reason length)")
    }

    @Test func hangingServerTimesOutOnEveryAttempt() async throws {
        let server = try TestHTTPServer { _, _ in .hang }
        let (reply, t) = try await Self.timed { try await APIJudge(options: Self.options(server, timeout: 0.2, retries: 2)).judge(try Self.request()) }
        #expect(reply.attempts == 3 && reply.error?.hasPrefix("timeout: no complete answer within 0.2 s") == true, "\(reply.error ?? "")")
        // Three deadlines of 0.2 s plus backoffs of at most 0.05 and 0.1 s.
        // Upper bounds only guard against an unbounded wait: the suites run in parallel with CPU-heavy ones, so
        // wall time can stretch many times; the attempt counts and errors prove each deadline cut its attempt.
        #expect(t >= 0.6 && t < 20, "\(t) s")
        server.stop()
    }

    @Test func droppedConnectionsAndRefusedConnectionsAreRetried() async throws {
        let server = try TestHTTPServer { n, _ in n == 0 ? .drop : .respond(status: 200, body: TestHTTPServer.completion("Response 1")) }
        let reply = try await APIJudge(options: Self.options(server)).judge(try Self.request())
        #expect(reply.raw == "Response 1" && reply.attempts == 2)
        let refused = try await APIJudge(options: Self.options(nil, port: unusedPort(), retries: 1)).judge(try Self.request())
        #expect(refused.attempts == 2 && refused.error?.hasPrefix("connection error") == true, "\(refused.error ?? "")")
    }

    @Test func clientErrorsFailWithoutRetryAndRejectedKeysStopTheRun() async throws {
        let bad = try TestHTTPServer { _, _ in .respond(status: 400, body: #"{"error":{"message":"maximum context length exceeded"}}"#) }
        let reply = try await APIJudge(options: Self.options(bad)).judge(try Self.request())
        #expect(reply.attempts == 1 && reply.error == "HTTP 400: maximum context length exceeded")
        // A 401 whose body echoes the key: the run stops, and the message does not contain the key.
        let unauthorized = try TestHTTPServer { _, r in
            .respond(status: 401, body: #"{"error":{"message":"Incorrect API key provided: \#(r.headers["authorization"] ?? "")"}}"#)
        }
        do {
            _ = try await APIJudge(options: Self.options(unauthorized)).judge(try Self.request())
            Issue.record("a 401 must stop the run")
        } catch let e as APIJudgeError {
            #expect(e.description.contains("HTTP 401") && !e.description.contains(Self.key), "\(e)")
            #expect(e.description.contains("<redacted>"))
        }
        #expect(unauthorized.requests.count == 1)
    }

    /// A 307 from the API to another origin (another port of 127.0.0.1): the request follows it without the
    /// key; a redirect within the origin keeps it.
    @Test func theKeyDoesNotFollowARedirectToAnotherOrigin() async throws {
        let elsewhere = try TestHTTPServer { _, _ in .respond(status: 200, body: TestHTTPServer.completion("Response 2")) }
        let api = try TestHTTPServer { _, r in
            r.path == "/v1/chat/completions"
                ? .respond(status: 307, headers: [("Location", elsewhere.baseURL + "/chat/completions")], body: "")
                : .respond(status: 200, body: TestHTTPServer.completion("Response 1"))
        }
        let reply = try await APIJudge(options: Self.options(api)).judge(try Self.request())
        #expect(reply.raw == "Response 2", "\(reply.error ?? "")")
        let there = try #require(elsewhere.requests.first)
        #expect(there.headers["authorization"] == nil, "the key was sent to another origin")

        let sameOrigin = try TestHTTPServer { _, r in
            r.path == "/v1/chat/completions" ? .respond(status: 307, headers: [("Location", "/v2/chat/completions")], body: "")
                                             : .respond(status: 200, body: TestHTTPServer.completion("Response 1"))
        }
        let r2 = try await APIJudge(options: Self.options(sameOrigin)).judge(try Self.request())
        #expect(r2.raw == "Response 1" && sameOrigin.requests.count == 2)
        #expect(sameOrigin.requests.last?.headers["authorization"] == "Bearer \(Self.key)")
        #expect(RedirectGuard.sameOrigin(URL(string: "https://a.example/v1")!, URL(string: "https://A.example:443/x")!))
        #expect(!RedirectGuard.sameOrigin(URL(string: "https://a.example/v1")!, URL(string: "http://a.example/v1")!))
        #expect(!RedirectGuard.sameOrigin(URL(string: "http://127.0.0.1:80/v1")!, URL(string: "http://127.0.0.1:8080/v1")!))
    }

    /// A non-JSON error body that echoes the header across the 300-byte cut: no part of the key survives.
    @Test func aKeyAcrossTheExcerptCutIsRedacted() async throws {
        for offset in [280, 290, 295, 299] {
            let server = try TestHTTPServer { _, r in
                .respond(status: 400, body: String(repeating: "x", count: offset - "Bearer ".count) + (r.headers["authorization"] ?? "") + " tail")
            }
            let reply = try await APIJudge(options: Self.options(server)).judge(try Self.request())
            let e = try #require(reply.error)
            #expect(!e.contains("sk-test") && !e.contains("SECRET") && !e.contains("0123"), "offset \(offset): \(e)")
            #expect(e.hasPrefix("HTTP 400: xxx"))
        }
        // A body that holds only the start of the key at the cut (the server cut it itself).
        let partial = String(repeating: "y", count: 290) + String(Self.key.prefix(12))
        let e = APIJudge.excerpt(Array(partial.utf8) + Array(String(repeating: "z", count: 50).utf8), key: Self.key)
        #expect(!e.contains("sk-test-SE") && e.hasSuffix("<redacted>..."), "\(e)")
        #expect(APIJudge.excerpt(Array("short \(Self.key) body".utf8), key: Self.key) == "short <redacted> body")
    }

    @Test func retryAfterHeaderForms() throws {
        func header(_ k: String, _ v: String) -> HTTPURLResponse {
            HTTPURLResponse(url: URL(string: "http://x")!, statusCode: 429, httpVersion: "HTTP/1.1", headerFields: [k: v])!
        }
        #expect(APIJudge.retryAfter(header("retry-after-ms", "1500")) == 1.5)
        #expect(APIJudge.retryAfter(header("Retry-After", "7")) == 7)
        let future = Date().addingTimeInterval(30)
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX"); f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        let d = APIJudge.retryAfter(header("Retry-After", f.string(from: future)))
        #expect(d != nil && d! > 27 && d! <= 30, "\(String(describing: d))")
        #expect(APIJudge.retryAfter(header("Retry-After", "soon")) == nil)
    }

    @Test func invalidBaseURLIsAnError() {
        var o = Self.options(nil, port: 1)
        o.baseURL = "ftp://example.com"
        #expect(throws: APIJudgeError.self) { _ = try APIJudge(options: o) }
        o.baseURL = "not a url"
        #expect(throws: APIJudgeError.self) { _ = try APIJudge(options: o) }
    }

    @Test func backoffDoublesCapsAndJittersFromTheSeed() throws {
        var o = Self.options(nil, port: 1)
        o.backoff = 1; o.maxBackoff = 5; o.jitter = false
        let exact = try APIJudge(options: o)
        var rng = RNG(seed: 0)
        #expect((0..<5).map { exact.backoffDelay(retry: $0, rng: &rng) } == [1, 2, 4, 5, 5])
        o.jitter = true
        let jittered = try APIJudge(options: o)
        var a = RNG(seed: 3), b = RNG(seed: 3)
        let da = (0..<4).map { jittered.backoffDelay(retry: $0, rng: &a) }
        let db = (0..<4).map { jittered.backoffDelay(retry: $0, rng: &b) }
        #expect(da == db)
        for (k, d) in da.enumerated() { let full = min(5, pow(2, Double(k))); #expect(d >= full / 2 && d < full) }
    }
}
