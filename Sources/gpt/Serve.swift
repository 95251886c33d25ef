// gpt serve: an OpenAI-compatible HTTP server with continuous batching (Sources/GPTServer).
import ArgumentParser
import Foundation
import GPTServer
import Logging
import SwiftGPT

struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the model over HTTP with OpenAI's API (chat/completions, completions, models).",
        discussion: """
            Endpoints: POST /v1/chat/completions, POST /v1/completions, GET /v1/models, GET /health, GET /metrics \
            (Prometheus), POST /tokenize, POST /detokenize. Up to --parallel requests are generated together, \
            each in its own slot of --ctx-per-seq tokens; more wait in a queue of --queue, past which the server \
            answers 503 with Retry-After. SIGTERM or Ctrl-C stops accepting requests and lets running ones finish \
            (at most --drain seconds).
            """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var compute: ComputeOptions

    @Option(help: "Address to listen on (127.0.0.1: this machine only; 0.0.0.0: every interface).")
    var host = "127.0.0.1"
    @Option(help: "TCP port (0: any free port, printed at start).")
    var port = 8080
    @Option(help: "Sequences generated together (KV-cache slots).")
    var parallel = 4
    @Option(name: .customLong("ctx-per-seq"), help: "Context of each slot in tokens (prompt + answer).")
    var ctxPerSeq = 2048
    @Option(help: "Requests that may wait for a slot before the server answers 503.")
    var queue = 64
    @Option(name: .customLong("api-key"), help: "Require `Authorization: Bearer KEY` (default: $GPT_API_KEY, else none).")
    var apiKey: String?
    @Option(help: "Seconds running requests get to finish after SIGTERM.")
    var drain = 10.0

    func validate() throws {
        if compute.ctx != nil { throw ValidationError("gpt serve sizes its context with --ctx-per-seq, not --ctx") }
        guard (1...256).contains(parallel) else { throw ValidationError("--parallel must be between 1 and 256") }
        guard ctxPerSeq >= 8 else { throw ValidationError("--ctx-per-seq must be at least 8") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be between 0 and 65535") }
        guard (0...100_000).contains(queue) else { throw ValidationError("--queue must be between 0 and 100000") }
        guard drain.isFinite, (0...3600).contains(drain) else { throw ValidationError("--drain must be 0...3600 seconds") }
        if let apiKey, apiKey.isEmpty { throw ValidationError("--api-key must not be empty") }
    }

    func run() async throws {
        LoggingSystem.bootstrap(StreamLogHandler.standardError)
        var logger = Logger(label: "gpt.serve")
        logger.logLevel = .info
        let backend = try compute.makeBackend()
        // The executor's own single-sequence cache is made only on first use (never, here); its nCtx bounds the
        // rows per pass, so it is the per-sequence context.
        let model = try LanguageModel.open(path: modelOptions.path, backend: backend, nCtx: ctxPerSeq,
                                           maxBatch: compute.batch, attention: compute.attention,
                                           kvFormat: compute.kvFormat)
        let engine = try makeBatchEngine(model: model, slots: parallel, contextPerSlot: ctxPerSeq)
        let scheduler = Scheduler(engine: engine, tokenizer: model.tokenizer,
                                  configuration: .init(maxQueue: queue))
        let modelID = URL(fileURLWithPath: modelOptions.path).deletingPathExtension().lastPathComponent
        var options = ServerOptions(modelID: modelID)
        options.host = host
        options.port = port
        options.apiKey = apiKey ?? ProcessInfo.processInfo.environment["GPT_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        options.drainSeconds = drain
        let server = OpenAIServer(scheduler: scheduler, tokenizer: model.tokenizer, template: model.chatTemplate,
                                  options: options, logger: logger)
        let host = self.host
        let summary = "model \(modelID), \(backend.name), \(parallel) slots x \(ctxPerSeq) tokens"
        try await server.run { port in
            Console.err("gpt serve: listening on http://\(host):\(port) (\(summary))\n")
        }
        Console.err("gpt serve: stopped\n")
    }
}
