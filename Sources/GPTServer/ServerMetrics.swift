// ServerMetrics: the Prometheus series at /metrics (requests, tokens, queue depth, time to first token, tokens/s).
import Prometheus

public final class ServerMetrics: SchedulerObserver, Sendable {
    public let registry = PrometheusCollectorRegistry()
    private let promptTokens: Counter
    private let cachedTokens: Counter
    private let generatedTokens: Counter
    private let queueDepth: Gauge
    private let running: Gauge
    private let stepRows: Gauge
    private let timeToFirstToken: ValueHistogram
    private let decodeRate: ValueHistogram
    private let batchRate: Gauge

    public init() {
        promptTokens = registry.makeCounter(name: "gpt_prompt_tokens_total", help: "Prompt tokens received.")
        cachedTokens = registry.makeCounter(
            name: "gpt_prompt_tokens_cached_total", help: "Prompt tokens reused from a slot's cache (not computed).")
        generatedTokens = registry.makeCounter(name: "gpt_generated_tokens_total", help: "Tokens generated.")
        queueDepth = registry.makeGauge(name: "gpt_queue_depth", help: "Requests waiting for a sequence slot.")
        running = registry.makeGauge(name: "gpt_running_sequences", help: "Sequences in the batch.")
        stepRows = registry.makeGauge(name: "gpt_batch_rows", help: "Rows (tokens) in the last forward step.")
        timeToFirstToken = registry.makeValueHistogram(
            name: "gpt_time_to_first_token_seconds", buckets: [0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
            help: "Seconds from request to first generated token.")
        decodeRate = registry.makeValueHistogram(
            name: "gpt_request_tokens_per_second", buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500],
            help: "Generated tokens per second of each request's decode phase.")
        batchRate = registry.makeGauge(
            name: "gpt_batch_tokens_per_second", help: "Tokens sampled per second by the last forward step, all sequences.")
    }

    /// Counts one answered request (by endpoint and HTTP status).
    public func request(endpoint: String, status: Int) {
        registry.makeCounter(name: "gpt_requests_total", labels: [("endpoint", endpoint), ("status", "\(status)")],
                             help: "HTTP requests answered.").increment()
    }

    public func finished(_ s: GenerationSummary) {
        promptTokens.increment(by: Int64(s.promptTokens))
        cachedTokens.increment(by: Int64(s.cachedTokens))
        generatedTokens.increment(by: Int64(s.completionTokens))
        if let t = s.timeToFirstToken { timeToFirstToken.record(t) }
        if s.completionTokens > 1 && s.decodeSeconds > 0 {
            decodeRate.record(Double(s.completionTokens - 1) / s.decodeSeconds)
        }
    }

    public func stepFinished(rows: Int, sampled: Int, seconds: Double, state: SchedulerState) {
        queueDepth.set(Double(state.queued))
        running.set(Double(state.running))
        stepRows.set(Double(rows))
        if seconds > 0 { batchRate.set(Double(sampled) / seconds) }
    }

    public func update(_ state: SchedulerState) {
        queueDepth.set(Double(state.queued))
        running.set(Double(state.running))
    }

    public func text() -> String { registry.emitToString() }
}
