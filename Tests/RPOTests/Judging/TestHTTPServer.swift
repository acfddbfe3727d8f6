// A small HTTP/1.1 server on 127.0.0.1 for the API judge tests: a thread per connection, one request per
// connection (answers carry "Connection: close"), and a script that decides each reply: answer (after a
// delay), hang until the server stops, or drop the connection.
import Foundation
import Testing
@testable import RPOCore
@testable import RPOAlignment
@testable import RPOTools
#if canImport(Glibc)
import Glibc
#endif

final class TestHTTPServer: @unchecked Sendable {
    struct Request: Sendable {
        let method: String
        let path: String
        /// Header names in lower case.
        let headers: [String: String]
        let body: [UInt8]
        var json: JSONObject? {
            guard case .object(let o)? = try? JSONParser.parse(String(decoding: body, as: UTF8.self)) else { return nil }
            return o
        }
        /// The contents of the chat messages of the request.
        var contents: [String] {
            (json?["messages"]?.arrayValue ?? []).compactMap { $0.objectValue?["content"]?.stringValue }
        }
    }

    enum Reply: Sendable {
        case respond(status: Int, headers: [(String, String)] = [], body: String, delay: Double = 0)
        /// Read the request, then never answer (until the server stops).
        case hang
        /// Close the connection without answering.
        case drop
    }

    /// A chat-completion body whose answer is `text`.
    static func completion(_ text: String) -> String {
        var m = JSONObject(); m["role"] = .string("assistant"); m["content"] = .string(text)
        var c = JSONObject(); c["index"] = .int(0); c["message"] = .object(m); c["finish_reason"] = .string("stop")
        var o = JSONObject(); o["id"] = .string("chatcmpl-test"); o["choices"] = .array([.object(c)])
        return try! JSONSerializer.string(.object(o))
    }

    let port: Int
    var baseURL: String { "http://127.0.0.1:\(port)/v1" }
    private let listenFD: Int32
    private let script: @Sendable (_ n: Int, _ request: Request) -> Reply
    private let lock = NSLock()
    private var received: [Request] = []
    private var active = 0
    private(set) var maxActive = 0
    private var stopped = false
    private var clients: Set<Int32> = []
    private let stopSignal = DispatchSemaphore(value: 0)
    private let acceptDone = DispatchSemaphore(value: 0)

    /// `script(n, request)` decides the reply to the n-th request (0-based, in arrival order).
    init(_ script: @escaping @Sendable (_ n: Int, _ request: Request) -> Reply) throws {
        self.script = script
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw IOError("test server", "socket failed") }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = 0
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 64) == 0 else { close(fd); throw IOError("test server", "bind/listen failed") }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) }
        }
        port = Int(UInt16(bigEndian: addr.sin_port))
        listenFD = fd
        Thread { [self] in acceptLoop() }.start()
    }

    deinit { stop() }

    var requests: [Request] { lock.lock(); defer { lock.unlock() }; return received }

    func stop() {
        lock.lock()
        if stopped { lock.unlock(); return }
        stopped = true
        let open = clients
        lock.unlock()
        shutdown(listenFD, Int32(SHUT_RDWR))
        acceptDone.wait()
        close(listenFD)
        for c in open { shutdown(c, Int32(SHUT_RDWR)) }
        for _ in 0..<256 { stopSignal.signal() }
    }

    private func acceptLoop() {
        while true {
            let c = accept(listenFD, nil, nil)
            if c < 0 { if errno == EINTR { continue }; break }
            lock.lock()
            if stopped { lock.unlock(); close(c); break }
            clients.insert(c)
            lock.unlock()
            Thread { [self] in serve(c) }.start()
        }
        acceptDone.signal()
    }

    private func serve(_ c: Int32) {
        defer {
            lock.lock(); clients.remove(c); lock.unlock()
            close(c)
        }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard let request = readRequest(c) else { return }
        lock.lock()
        let n = received.count
        received.append(request)
        active += 1
        maxActive = max(maxActive, active)
        lock.unlock()
        defer { lock.lock(); active -= 1; lock.unlock() }
        switch script(n, request) {
        case .drop:
            return
        case .hang:
            stopSignal.wait()
        case .respond(let status, let headers, let body, let delay):
            if delay > 0 { usleep(UInt32(delay * 1e6)) }
            var head = "HTTP/1.1 \(status) \(status == 200 ? "OK" : "Status")\r\nContent-Type: application/json\r\n"
            head += "Content-Length: \(body.utf8.count)\r\nConnection: close\r\n"
            for (k, v) in headers { head += "\(k): \(v)\r\n" }
            send(c, Array((head + "\r\n" + body).utf8))
        }
    }

    private func send(_ c: Int32, _ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.send(c, $0.baseAddress! + off, bytes.count - off, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { return }
            off += n
        }
    }

    private func readRequest(_ c: Int32) -> Request? {
        var buf: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        func fill() -> Bool {
            let n = chunk.withUnsafeMutableBytes { recv(c, $0.baseAddress!, $0.count, 0) }
            if n <= 0 { return false }
            buf.append(contentsOf: chunk[0..<n])
            return true
        }
        let sep: [UInt8] = [13, 10, 13, 10]
        var headerEnd: Int?
        while headerEnd == nil {
            if buf.count >= 4 {
                for i in 0...(buf.count - 4) where Array(buf[i..<(i + 4)]) == sep { headerEnd = i; break }
            }
            if headerEnd == nil && !fill() { return nil }
        }
        let head = String(decoding: buf[0..<headerEnd!], as: UTF8.self).components(separatedBy: "\r\n")
        let first = head[0].split(separator: " ")
        guard first.count >= 2 else { return nil }
        var headers: [String: String] = [:]
        for line in head.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
        }
        if headers["expect"]?.lowercased() == "100-continue" { send(c, Array("HTTP/1.1 100 Continue\r\n\r\n".utf8)) }
        let length = Int(headers["content-length"] ?? "0") ?? 0
        var body = Array(buf[(headerEnd! + 4)...])
        while body.count < length {
            buf = []
            if !fill() { return nil }
            body.append(contentsOf: buf)
        }
        return Request(method: String(first[0]), path: String(first[1]), headers: headers, body: Array(body.prefix(length)))
    }
}

/// A port with nothing listening on it (bound, then closed).
func unusedPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    close(fd)
    return Int(UInt16(bigEndian: addr.sin_port))
}
