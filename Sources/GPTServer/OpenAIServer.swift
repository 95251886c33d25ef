// OpenAIServer: the HTTP routes of `gpt serve` on Hummingbird. Every request becomes token ids, goes to the
// scheduler, and its events come back as one JSON body or as server-sent events ending in `data: [DONE]`.
import Foundation
import GPTEngine
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Tokenization

public struct ServerOptions: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Required as `Authorization: Bearer KEY` on every route but /health (nil: no key).
    public var apiKey: String?
    /// The model's name in requests and /v1/models.
    public var modelID: String
    /// Largest request body accepted (bytes).
    public var maxBodyBytes = 1 << 20
    /// Seconds running requests get to finish after SIGTERM before they are cut.
    public var drainSeconds = 10.0

    public init(modelID: String) { self.modelID = modelID }
}

public final class OpenAIServer: Sendable {
    let scheduler: Scheduler
    let tokenizer: BPETokenizer
    let template: ChatTemplate
    let options: ServerOptions
    let metrics: ServerMetrics
    let logger: Logger
    let created = Int(Date().timeIntervalSince1970)

    public init(scheduler: Scheduler, tokenizer: BPETokenizer, template: ChatTemplate?, options: ServerOptions,
                logger: Logger) {
        self.scheduler = scheduler
        self.tokenizer = tokenizer
        // llama-server's fallback for a model without a recognised template
        self.template = template ?? .chatml
        self.options = options
        self.metrics = ServerMetrics()
        self.logger = logger
        scheduler.observer = metrics
    }

    /// Serves until SIGTERM or SIGINT, then stops accepting, lets running requests finish (for at most
    /// `drainSeconds`) and returns. `onListening` gets the bound port (useful with port 0).
    public func run(onListening: @escaping @Sendable (Int) -> Void = { _ in }) async throws {
        scheduler.start()
        let app = Application(
            router: makeRouter(),
            configuration: .init(address: .hostname(options.host, port: options.port), serverName: "swiftgpt"),
            onServerRunning: { channel in onListening(channel.localAddress?.port ?? 0) },
            logger: logger)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [], logger: logger))
        let signals = SignalWatcher(signals: [SIGTERM, SIGINT])
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            tasks.addTask { try await group.run() }
            tasks.addTask { [scheduler, logger, options] in
                guard await signals.next() else { return }
                logger.info("shutting down: no new requests; waiting up to \(options.drainSeconds) s for running ones")
                // stop the listener and the scheduler's intake together; requests still running end within the
                // drain time (cut ones finish with "cancelled"), then the server's connections close
                async let drained: Void = scheduler.drain(seconds: options.drainSeconds)
                await group.triggerGracefulShutdown()
                await drained
            }
            try await tasks.next()
            tasks.cancelAll()
        }
        signals.stop()
    }

    // MARK: - Routes

    func makeRouter() -> Router<ServerContext> {
        let router = Router(context: ServerContext.self)
        router.middlewares.add(ErrorAndAuthMiddleware(apiKey: options.apiKey, metrics: metrics))
        router.get("health") { [self] _, _ in
            let s = scheduler.state
            return try json(["status": s.draining ? "shutting down" : "ok", "slots_idle": s.slots - s.running,
                             "slots_processing": s.running, "queued": s.queued],
                            status: s.draining ? .serviceUnavailable : .ok)
        }
        router.get("metrics") { [self] _, _ in
            metrics.update(scheduler.state)
            return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4"],
                            body: .init(byteBuffer: ByteBuffer(string: metrics.text())))
        }
        router.get("v1/models") { [self] _, _ in
            try json(["object": "list", "data": [modelObject]])
        }
        router.get("v1/models/:id") { [self] _, context in
            guard context.parameters.get("id") == options.modelID else { throw unknownModel(context.parameters.get("id") ?? "") }
            return try json(modelObject)
        }
        router.post("tokenize") { [self] request, context in
            let body: TokenizeRequest = try await decode(request)
            let parseSpecial = body.parse_special ?? true
            let ids = tokenizer.encode(body.content, parseSpecial: parseSpecial, addSpecial: body.add_special == true)
            if body.with_pieces == true {
                return try json(["tokens": ids.map { ["id": Int($0), "piece": tokenizer.decode([$0])] as [String: Any] }])
            }
            return try json(["tokens": ids.map { Int($0) }])
        }
        router.post("detokenize") { [self] request, context in
            let body: DetokenizeRequest = try await decode(request)
            for id in body.tokens where id < 0 || Int(id) >= tokenizer.vocabSize {
                throw APIError.invalid("token id \(id) is outside the vocabulary (0..<\(tokenizer.vocabSize))",
                                       param: "tokens")
            }
            return try json(["content": tokenizer.decode(body.tokens)])
        }
        router.post("v1/chat/completions") { [self] request, context in try await chatCompletion(request, context) }
        router.post("chat/completions") { [self] request, context in try await chatCompletion(request, context) }
        router.post("v1/completions") { [self] request, context in try await completion(request, context) }
        router.post("completions") { [self] request, context in try await completion(request, context) }
        return router
    }

    private var modelObject: [String: Any] {
        ["id": options.modelID, "object": "model", "created": created, "owned_by": "swiftgpt",
         "meta": ["n_ctx_per_seq": scheduler.contextPerSlot, "n_vocab": tokenizer.vocabSize,
                  "parallel": scheduler.state.slots]]
    }

    private func unknownModel(_ name: String) -> APIError {
        APIError(.notFound, "the model '\(name)' does not exist; this server has '\(options.modelID)'",
                 param: "model", code: "model_not_found")
    }

    /// The request's body (at most `maxBodyBytes`).
    private func body(_ request: Request) async throws -> Data {
        do {
            return Data(buffer: try await request.body.collect(upTo: options.maxBodyBytes))
        } catch is NIOTooManyBytesError {
            throw APIError(.contentTooLarge, "the request body is larger than \(options.maxBodyBytes) bytes")
        }
    }

    private func decode<T: Decodable>(_ data: Data, as type: T.Type = T.self) throws -> T {
        do {
            return try JSONDecoder().decode(T.self, from: data)
        } catch {
            throw APIError.decoding(error)
        }
    }

    private func decode<T: Decodable>(_ request: Request) async throws -> T {
        try decode(try await body(request))
    }

    // MARK: - Completions

    private func chatCompletion(_ request: Request, _ context: ServerContext) async throws -> Response {
        let data = try await body(request)
        let chat: ChatCompletionRequest = try decode(data)
        let common: CommonParameters = try decode(data)
        try checkModel(common.model)
        guard !chat.messages.isEmpty else { throw APIError.invalid("'messages' must not be empty", param: "messages") }
        var messages: [ChatMessage] = []
        for (i, m) in chat.messages.enumerated() {
            let role = m.role == "developer" ? "system" : m.role
            guard ["system", "user", "assistant"].contains(role) else {
                throw APIError.invalid("messages[\(i)].role '\(m.role)' is not one of system, user, assistant",
                                       param: "messages[\(i)].role")
            }
            messages.append(ChatMessage(role: role, content: m.content?.text ?? ""))
        }
        // only the template's markup may become control tokens; message text is encoded as text
        let prompt = tokenizer.encode(template.prompt(messages, addGenerationPrompt: true))
        let parameters = try common.generation(topLogprobs: try chat.topLogprobs())
        return try await respond(context, kind: .chat, prompt: prompt, parameters: parameters, common: common)
    }

    private func completion(_ request: Request, _ context: ServerContext) async throws -> Response {
        let data = try await body(request)
        let body: CompletionRequest = try decode(data)
        let common: CommonParameters = try decode(data)
        try checkModel(common.model)
        if body.echo == true { throw APIError.invalid("'echo' is not supported", param: "echo") }
        let prompt: [Int32]
        switch body.prompt.value {
        case .text(let s): prompt = tokenizer.encode(s, parseSpecial: true)
        case .tokens(let ids):
            for id in ids where id < 0 || Int(id) >= tokenizer.vocabSize {
                throw APIError.invalid("token id \(id) is outside the vocabulary", param: "prompt")
            }
            prompt = ids
        }
        let parameters = try common.generation(topLogprobs: try body.topLogprobs())
        return try await respond(context, kind: .text, prompt: prompt, parameters: parameters, common: common)
    }

    private func checkModel(_ name: String?) throws {
        guard let name else { return }
        let id = options.modelID
        guard name == id || name == id + ".gguf" || name.isEmpty else { throw unknownModel(name) }
    }

    enum Kind {
        case chat, text
        var object: String { self == .chat ? "chat.completion" : "text_completion" }
        var idPrefix: String { self == .chat ? "chatcmpl-" : "cmpl-" }
    }

    private func submit(_ prompt: [Int32], _ parameters: GenerationParameters, kind: Kind) throws -> GenerationHandle {
        do {
            return try scheduler.submit(prompt: prompt, parameters: parameters)
        } catch {
            switch error {
            case .busy:
                throw APIError(.serviceUnavailable, "the server is busy: all slots are taken and the queue is full",
                               type: "server_error", code: "server_busy", retryAfter: 1)
            case .shuttingDown:
                throw APIError(.serviceUnavailable, "the server is shutting down", type: "server_error",
                               code: "shutting_down", retryAfter: 5)
            case .promptTooLong(let tokens, let context):
                throw APIError(.badRequest,
                               "the prompt is \(tokens) tokens; the context per sequence is \(context) tokens, "
                                   + "and at least one must be left to generate",
                               param: kind == .chat ? "messages" : "prompt",
                               code: "context_length_exceeded")
            case .emptyPrompt:
                throw APIError.invalid("the prompt is empty", param: "prompt")
            }
        }
    }

    private func respond(_ context: ServerContext, kind: Kind, prompt: [Int32], parameters: GenerationParameters,
                         common: CommonParameters) async throws -> Response {
        let handle = try submit(prompt, parameters, kind: kind)
        // a client that hangs up (mid-stream or while waiting) frees its sequence at the next step
        context.channel.closeFuture.whenComplete { _ in handle.cancel() }
        let id = kind.idPrefix + String(handle.id)
        let writer = ChoiceWriter(kind: kind, id: id, model: options.modelID, created: Int(Date().timeIntervalSince1970),
                                  tokenizer: tokenizer)
        let endpoint = kind == .chat ? "chat" : "completions"
        if common.stream == true {
            let includeUsage = common.stream_options?.include_usage == true
            let body = ResponseBody { [self] out in
                defer { handle.cancel() }
                do {
                    if let first = writer.streamStart() { try await out.write(sse(first)) }
                    for await event in handle.events {
                        switch event {
                        case .text(let text, let tokens, let logprobs):
                            guard !text.isEmpty || !logprobs.isEmpty else { continue }
                            try await out.write(sse(writer.streamDelta(text, tokens: tokens, logprobs: logprobs)))
                        case .done(let summary):
                            try await out.write(sse(writer.streamEnd(summary)))
                            if includeUsage { try await out.write(sse(writer.streamUsage(summary))) }
                            log(endpoint, id, summary)
                        case .failed(let message):
                            try await out.write(sse(["error": ["message": message, "type": "server_error"]]))
                        }
                    }
                    try await out.write(ByteBuffer(string: "data: [DONE]\n\n"))
                }
                try await out.finish(nil)
            }
            metrics.request(endpoint: endpoint, status: 200)
            return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"],
                            body: body)
        }
        // one JSON body
        let result = await { () async -> Collected in
            var text = ""
            var logprobs: [TokenLogprob] = []
            var tokens: [Int32] = []
            var failure: String?
            var summary = GenerationSummary()
            for await event in handle.events {
                switch event {
                case .text(let t, let ids, let lp):
                    text += t
                    tokens += ids
                    logprobs += lp
                case .done(let s): summary = s
                case .failed(let m): failure = m
                }
            }
            return Collected(text: text, tokens: tokens, logprobs: logprobs, summary: summary, failure: failure)
        }()
        if let failure = result.failure { throw APIError(.internalServerError, failure, type: "server_error") }
        log(endpoint, id, result.summary)
        metrics.request(endpoint: endpoint, status: 200)
        return try json(writer.complete(result.text, tokens: result.tokens, logprobs: result.logprobs,
                                        summary: result.summary, topLogprobs: parameters.topLogprobs != nil))
    }

    private struct Collected: @unchecked Sendable {
        var text: String, tokens: [Int32], logprobs: [TokenLogprob], summary: GenerationSummary, failure: String?
    }

    /// One log line per request: id, tokens, timings.
    private func log(_ endpoint: String, _ id: String, _ s: GenerationSummary) {
        metrics.finished(s)
        let ttft = s.timeToFirstToken.map { String(format: "%.0f ms", $0 * 1000) } ?? "-"
        let rate = s.completionTokens > 1 && s.decodeSeconds > 0
            ? String(format: "%.1f t/s", Double(s.completionTokens - 1) / s.decodeSeconds) : "-"
        logger.info("\(id) \(endpoint): prompt \(s.promptTokens) tokens (\(s.cachedTokens) cached), generated \(s.completionTokens), finish \(s.finishReason.rawValue), ttft \(ttft), \(rate), total \(String(format: "%.0f ms", s.totalSeconds * 1000))")
    }
}

// MARK: - JSON helpers

func json(_ object: Any, status: HTTPResponse.Status = .ok) throws -> Response {
    let data = try JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])
    return Response(status: status, headers: [.contentType: "application/json"],
                    body: .init(byteBuffer: ByteBuffer(bytes: data)))
}

func sse(_ object: Any) -> ByteBuffer {
    let data = (try? JSONSerialization.data(withJSONObject: object, options: [.withoutEscapingSlashes])) ?? Data("{}".utf8)
    var buffer = ByteBuffer(string: "data: ")
    buffer.writeBytes(data)
    buffer.writeString("\n\n")
    return buffer
}

/// Turns OpenAI-shaped errors (and Hummingbird's own) into {"error": {...}} bodies, checks the API key, and counts
/// failed requests.
/// The request context: Hummingbird's basics plus the connection, whose closing cancels a generation.
public struct ServerContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

struct ErrorAndAuthMiddleware: RouterMiddleware {
    typealias Context = ServerContext
    let apiKey: String?
    let metrics: ServerMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws
        -> Response
    {
        do {
            if let apiKey, request.uri.path != "/health" {
                let expected = "Bearer \(apiKey)"
                guard let given = request.headers[.authorization], constantTimeEqual(given, expected) else {
                    throw APIError(.unauthorized, "invalid or missing API key (send Authorization: Bearer KEY)",
                                   type: "authentication_error", code: "invalid_api_key")
                }
            }
            return try await next(request, context)
        } catch var error as APIError {
            if error.status == .notFound && error.code == nil { error.code = "not_found" }
            return respond(error, request)
        } catch let error as HTTPError {
            let message = error.status == .notFound
                ? "no route \(request.method) \(request.uri.path)" : (error.body ?? error.status.reasonPhrase)
            return respond(APIError(error.status, message, type: error.status.code >= 500 ? "server_error" : "invalid_request_error"), request)
        }
    }

    private func respond(_ error: APIError, _ request: Request) -> Response {
        metrics.request(endpoint: request.uri.path, status: error.status.code)
        var response = (try? json(error.json, status: error.status)) ?? Response(status: error.status)
        if let retry = error.retryAfter { response.headers[.retryAfter] = String(retry) }
        return response
    }

    private func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let x = Array(a.utf8), y = Array(b.utf8)
        guard x.count == y.count else { return false }
        var diff: UInt8 = 0
        for i in x.indices { diff |= x[i] ^ y[i] }
        return diff == 0
    }
}

/// Waits for a POSIX signal without a handler that runs arbitrary code in signal context.
final class SignalWatcher: @unchecked Sendable {
    private var sources: [DispatchSourceSignal] = []
    private let stream: AsyncStream<Int32>
    private let continuation: AsyncStream<Int32>.Continuation

    init(signals: [Int32]) {
        (stream, continuation) = AsyncStream<Int32>.makeStream()
        for sig in signals {
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler { [continuation] in continuation.yield(sig) }
            source.resume()
            sources.append(source)
        }
    }

    /// True when a signal came; false when stopped first.
    func next() async -> Bool {
        for await _ in stream { return true }
        return false
    }

    func stop() {
        continuation.finish()
        for s in sources { s.cancel() }
    }
}
