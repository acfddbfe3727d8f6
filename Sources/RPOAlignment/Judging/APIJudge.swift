// The API judge: OpenAI-compatible chat completions (POST {base}/chat/completions, spoken by OpenAI, vLLM,
// llama.cpp's server, Ollama) with the official request of compare.py:229-235 (temperature 0, max_tokens 10,
// seed). Each request has a hard deadline; 429, 408, 409, 5xx, timeouts and connection errors are retried
// with exponential backoff (jitter drawn from the seeded RNG), honouring retry-after-ms / Retry-After.
// 401, 403 and 404 stop the run (every later call would fail the same way); other failures become the
// judgment's error. The API key goes into the Authorization header only and is redacted from anything else.
import Foundation
#if canImport(FoundationNetworking)
import FoundationNetworking
#endif
import RPOCore

/// An API key: printed as "<redacted>", so it cannot leak through string interpolation.
public struct APIKey: Sendable, CustomStringConvertible, CustomDebugStringConvertible {
    let value: String
    public init(_ value: String) { self.value = value }
    public var description: String { "<redacted>" }
    public var debugDescription: String { "<redacted>" }
}

public struct APIJudgeOptions: Sendable {
    /// The API root; the request goes to `{baseURL}/chat/completions`.
    public var baseURL: String = "https://api.openai.com/v1"
    public var model: String = "gpt-4-0613"
    /// nil sends no Authorization header (local servers).
    public var apiKey: APIKey?
    /// Seconds one request may take, from sending to the complete answer.
    public var timeout: Double = 10
    /// Retries after the first attempt, for 429/408/409/5xx, timeouts and connection errors.
    public var retries: Int = 3
    /// First backoff delay in seconds; doubled on every retry, capped by `maxBackoff`.
    public var backoff: Double = 1
    public var maxBackoff: Double = 60
    /// Scale each delay by a factor in [0.5, 1) from the seeded RNG (false: exact doubling).
    public var jitter: Bool = true
    /// Sent as the request's `seed` (upstream sends its order seed) and seeds the jitter.
    public var seed: UInt64 = 0
    public var temperature: Double = 0
    public var maxTokens: Int = 10
    /// Requests in flight at once.
    public var concurrency: Int = 4

    public init() {}
}

/// Errors that stop an API-judged run.
public struct APIJudgeError: Error, CustomStringConvertible, Sendable {
    public let message: String
    public var description: String { message }
}

public final class APIJudge: JudgeBackend, @unchecked Sendable {
    public let options: APIJudgeOptions
    public let endpoint: URL
    let session: URLSession

    public var name: String { "api:\(options.model)" }
    public var maxConcurrency: Int { options.concurrency }

    public init(options: APIJudgeOptions) throws {
        var base = options.baseURL
        while base.hasSuffix("/") { base.removeLast() }
        guard let url = URL(string: base + "/chat/completions"), let scheme = url.scheme?.lowercased(),
              scheme == "http" || scheme == "https", url.host != nil else {
            throw APIJudgeError(message: "invalid API base URL \"\(options.baseURL)\" (expected http(s)://host[:port]/path)")
        }
        guard options.timeout > 0, options.retries >= 0, options.backoff >= 0, options.maxBackoff >= 0,
              options.concurrency >= 1, options.maxTokens >= 1 else {
            throw APIJudgeError(message: "API judge options out of range (timeout > 0, retries >= 0, concurrency >= 1)")
        }
        self.options = options
        self.endpoint = url
        let config = URLSessionConfiguration.ephemeral
        // The hard deadline is ours (below); these only stop libcurl from outliving it.
        config.timeoutIntervalForRequest = options.timeout + 1
        config.timeoutIntervalForResource = options.timeout + 5
        config.httpMaximumConnectionsPerHost = max(options.concurrency, 1)
        config.urlCache = nil
        config.requestCachePolicy = .reloadIgnoringLocalCacheData
        // The delegate sees every redirect: the key does not follow one to another origin.
        session = URLSession(configuration: config, delegate: RedirectGuard(origin: url), delegateQueue: nil)
    }

    deinit { session.invalidateAndCancel() }

    // MARK: - Request

    /// The JSON body: compare.py's `chat.completions.create(model, messages, temperature, max_tokens, seed)`.
    public func requestBody(_ messages: [ChatMessage]) -> [UInt8] {
        var o = JSONObject()
        o["model"] = .string(options.model)
        o["messages"] = .array(messages.map { .object(JSONObject([("role", .string($0.role)), ("content", .string($0.content))])) })
        o["temperature"] = options.temperature == options.temperature.rounded() && abs(options.temperature) < 1e15
            ? .int(Int(options.temperature)) : .double(options.temperature)
        o["max_tokens"] = .int(options.maxTokens)
        o["seed"] = options.seed <= UInt64(Int.max) ? .int(Int(options.seed)) : .double(Double(options.seed))
        var out: [UInt8] = []
        try? JSONSerializer.write(o, to: &out)  // only finite numbers: cannot fail
        return out
    }

    public func judge(_ request: JudgeRequest) async throws -> JudgeReply {
        let start = Date()
        let body = Data(requestBody(request.messages))
        // Jitter from a generator private to this presentation: the same delays whatever the concurrency.
        var rng = RNG(seed: options.seed ^ (UInt64(request.index) &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(request.pass) << 62)
        var attempt = 0
        while true {
            attempt += 1
            try Task.checkCancellation()
            let outcome = await send(body)
            let elapsed = { Date().timeIntervalSince(start) }
            switch outcome {
            case .answer(let text):
                return JudgeReply(raw: redact(text), attempts: attempt, seconds: elapsed())
            case .failed(let message):
                return JudgeReply(error: redact(message), attempts: attempt, seconds: elapsed())
            case .fatal(let message):
                throw APIJudgeError(message: redact(message))
            case .retryable(let message, let retryAfter):
                if attempt > options.retries {
                    let tries = attempt == 1 ? "1 attempt" : "\(attempt) attempts"
                    return JudgeReply(error: redact("\(message) (\(tries))"), attempts: attempt, seconds: elapsed())
                }
                let delay = retryAfter ?? backoffDelay(retry: attempt - 1, rng: &rng)
                if delay > 0 { try await Task.sleep(nanoseconds: UInt64(delay * 1e9)) }
            }
        }
    }

    /// base · 2^retry, capped, times a factor in [0.5, 1) when jittering.
    func backoffDelay(retry: Int, rng: inout RNG) -> Double {
        let d = min(options.maxBackoff, options.backoff * pow(2, Double(min(retry, 60))))
        return options.jitter ? d * (0.5 + 0.5 * rng.nextDouble()) : d
    }

    enum Outcome: Sendable {
        case answer(String)
        case retryable(String, retryAfter: Double?)
        case failed(String)
        case fatal(String)
    }

    /// One HTTP exchange with a hard deadline of `options.timeout` seconds.
    func send(_ body: Data) async -> Outcome {
        var req = URLRequest(url: endpoint)
        req.httpMethod = "POST"
        req.httpBody = body
        req.timeoutInterval = options.timeout + 1
        req.setValue("application/json", forHTTPHeaderField: "Content-Type")
        req.setValue("application/json", forHTTPHeaderField: "Accept")
        if let key = options.apiKey { req.setValue("Bearer \(key.value)", forHTTPHeaderField: "Authorization") }
        let pending = PendingRequest()
        let timeout = options.timeout
        return await withTaskCancellationHandler {
            await withCheckedContinuation { (cont: CheckedContinuation<Outcome, Never>) in
                pending.start(cont)
                // The handler holds no reference to self: were it the last one, deinit would run on the
                // session's queue and deadlock in invalidateAndCancel.
                let endpoint = endpoint, key = options.apiKey?.value
                let task = session.dataTask(with: req) { data, response, error in
                    pending.finish(APIJudge.classify(data: data, response: response, error: error, endpoint: endpoint, key: key))
                }
                pending.attach(task)
                task.resume()
                DispatchQueue.global().asyncAfter(deadline: .now() + timeout) {
                    pending.finish(.retryable("timeout: no complete answer within \(APIJudge.seconds(timeout))", retryAfter: nil))
                }
            }
        } onCancel: {
            pending.finish(.failed("cancelled"))
        }
    }

    // MARK: - Response

    /// `key` is redacted from the bodies quoted in the outcome (before they are shortened).
    static func classify(data: Data?, response: URLResponse?, error: Error?, endpoint: URL, key: String? = nil) -> Outcome {
        if let error {
            if let u = error as? URLError {
                switch u.code {
                case .timedOut: return .retryable("timeout: \(u.localizedDescription)", retryAfter: nil)
                case .badURL, .unsupportedURL: return .fatal("cannot use \(endpoint): \(u.localizedDescription)")
                default: return .retryable("connection error: \(u.localizedDescription) (URLError \(u.code.rawValue))", retryAfter: nil)
                }
            }
            return .retryable("connection error: \(error.localizedDescription)", retryAfter: nil)
        }
        guard let http = response as? HTTPURLResponse else { return .retryable("connection error: no HTTP response", retryAfter: nil) }
        let bytes = [UInt8](data ?? Data())
        let status = http.statusCode
        switch status {
        case 200...299:
            return parseAnswer(bytes, key: key)
        case 401, 403:
            return .fatal("the API refused the request (HTTP \(status)): \(APIJudge.excerpt(bytes, key: key)); check the key in the environment variable")
        case 404:
            return .fatal("the API answered HTTP 404 for \(endpoint): \(APIJudge.excerpt(bytes, key: key)); check --api-base and --api-model")
        case 408, 409, 429, 500...599:
            return .retryable("HTTP \(status): \(APIJudge.excerpt(bytes, key: key))", retryAfter: APIJudge.retryAfter(http))
        default:
            return .failed("HTTP \(status): \(APIJudge.excerpt(bytes, key: key))")
        }
    }

    /// `choices[0].message.content` of a chat completion.
    static func parseAnswer(_ bytes: [UInt8], key: String? = nil) -> Outcome {
        let json: JSON
        do {
            json = try bytes.withUnsafeBufferPointer { buf throws(JSONParseError) in try JSONParser.parse(buf) }
        } catch {
            return .failed("malformed response (\(error.description)): \(APIJudge.excerpt(bytes, key: key))")
        }
        guard case .object(let o) = json, case .array(let choices)? = o["choices"], let first = choices.first,
              case .object(let choice) = first, case .object(let message)? = choice["message"] else {
            return .failed("malformed response (no choices[0].message): \(APIJudge.excerpt(bytes, key: key))")
        }
        guard case .string(let content)? = message["content"] else {
            let reason = choice["finish_reason"]?.stringValue.map { " (finish_reason \($0))" } ?? ""
            return .failed("the judge returned no text\(reason)")
        }
        return .answer(content)
    }

    /// retry-after-ms (OpenAI) or Retry-After (seconds or an HTTP date), in seconds.
    static func retryAfter(_ http: HTTPURLResponse) -> Double? {
        var headers: [String: String] = [:]
        for (k, v) in http.allHeaderFields {
            if let k = k as? String, let v = v as? String { headers[k.lowercased()] = v }
        }
        if let ms = headers["retry-after-ms"].flatMap({ Double($0.trimmingCharacters(in: .whitespaces)) }), ms >= 0, ms.isFinite {
            return ms / 1000
        }
        guard let value = headers["retry-after"]?.trimmingCharacters(in: .whitespaces) else { return nil }
        if let s = Double(value), s >= 0, s.isFinite { return s }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "GMT")
        f.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        if let date = f.date(from: value) { return max(0, date.timeIntervalSinceNow) }
        return nil
    }

    /// The API's error message, or the start of the body (at most `limit` bytes), with `key` redacted from
    /// the whole body first: a key that straddles the cut is not left there in part.
    static func excerpt(_ bytes: [UInt8], key: String? = nil, limit: Int = 300) -> String {
        if let json = try? bytes.withUnsafeBufferPointer({ buf throws(JSONParseError) in try JSONParser.parse(buf) }),
           case .object(let o) = json {
            if case .object(let e)? = o["error"], let m = e["message"]?.stringValue { return redact(m, key: key) }
            if let m = o["error"]?.stringValue { return redact(m, key: key) }
        }
        let whole = [UInt8](redact(String(decoding: bytes, as: UTF8.self), key: key).utf8)
        if whole.isEmpty { return "empty body" }
        guard whole.count > limit else { return String(decoding: whole, as: UTF8.self) }
        var cut = limit
        while cut > 0 && whole[cut] & 0xC0 == 0x80 { cut -= 1 }  // not inside a UTF-8 sequence
        var text = String(decoding: whole[..<cut], as: UTF8.self)
        // The body may hold the start of the key on its own (a truncated echo): drop a tail that begins it.
        if let key, !key.isEmpty {
            for n in stride(from: min(key.count, text.count), to: 0, by: -1) where text.hasSuffix(key.prefix(n)) {
                if n >= 4 || n == key.count { text.removeLast(n); text += "<redacted>" }
                break
            }
        }
        return text + "..."
    }

    /// Removes the key from text that will be written or printed.
    func redact(_ s: String) -> String { APIJudge.redact(s, key: options.apiKey?.value) }

    static func redact(_ s: String, key: String?) -> String {
        guard let key, !key.isEmpty else { return s }
        return s.replacingOccurrences(of: key, with: "<redacted>")
    }

    static func seconds(_ s: Double) -> String {
        s == s.rounded() ? "\(Int(s)) s" : "\(s) s"
    }
}

/// Follows redirects within the API's origin (scheme, host and port) as they are; on a redirect to another
/// origin, drops the Authorization header (as curl does), so that the key reaches only the configured server.
final class RedirectGuard: NSObject, URLSessionTaskDelegate, @unchecked Sendable {
    let origin: URL

    init(origin: URL) { self.origin = origin }

    static func sameOrigin(_ a: URL, _ b: URL) -> Bool {
        func port(_ u: URL) -> Int? { u.port ?? (u.scheme?.lowercased() == "https" ? 443 : u.scheme?.lowercased() == "http" ? 80 : nil) }
        return a.scheme?.lowercased() == b.scheme?.lowercased() && a.host?.lowercased() == b.host?.lowercased()
            && port(a) == port(b)
    }

    func urlSession(_ session: URLSession, task: URLSessionTask, willPerformHTTPRedirection response: HTTPURLResponse,
                    newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void) {
        var next = request
        if let to = request.url, !RedirectGuard.sameOrigin(origin, to) {
            next.setValue(nil, forHTTPHeaderField: "Authorization")
        }
        completionHandler(next)
    }
}

/// One request's completion, taken by whichever comes first: the answer, the deadline or cancellation.
final class PendingRequest: @unchecked Sendable {
    let lock = NSLock()
    var continuation: CheckedContinuation<APIJudge.Outcome, Never>?
    var early: APIJudge.Outcome?
    var task: URLSessionDataTask?
    var done = false

    func start(_ c: CheckedContinuation<APIJudge.Outcome, Never>) {
        lock.lock()
        if let e = early, !done {
            done = true
            lock.unlock()
            c.resume(returning: e)
            return
        }
        continuation = c
        lock.unlock()
    }

    func attach(_ t: URLSessionDataTask) {
        lock.lock(); task = t; let cancelNow = done; lock.unlock()
        if cancelNow { t.cancel() }
    }

    /// Completes the request with `outcome` unless it is already complete; cancels the HTTP task.
    func finish(_ outcome: APIJudge.Outcome) {
        lock.lock()
        if done { lock.unlock(); return }
        guard let c = continuation else {
            // Cancelled before the continuation existed: remember, resume at start.
            if early == nil { early = outcome }
            lock.unlock()
            return
        }
        done = true
        continuation = nil
        let t = task
        lock.unlock()
        c.resume(returning: outcome)
        t?.cancel()
    }
}
