// gpt chat: a conversation through the model's chat template. With --prompt it answers one message; otherwise it
// reads messages from stdin (one per line when stdin is not a terminal) and keeps the KV cache across turns.
import ArgumentParser
import Foundation
import SwiftGPT

struct Chat: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Chat with the model (system prompt, chat template).")

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var compute: ComputeOptions
    @OptionGroup var sampling: SamplingFlags

    @Option(name: [.short, .long], help: "System prompt.")
    var system: String = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
    @Option(name: [.short, .long], help: "One user message: answer it and exit.")
    var prompt: String?
    @Option(name: [.short, .customLong("n-predict")], help: "Most tokens per answer.")
    var n: Int = 256
    @Option(name: .customLong("chat-template"), help: "Override the template: \(ChatTemplate.allCases.map(\.rawValue).joined(separator: ", ")).")
    var chatTemplate: String?
    @Flag(help: "Do not print timings to stderr.")
    var quiet = false

    func validate() throws {
        if n < 1 { throw ValidationError("-n must be positive") }
        if let chatTemplate, ChatTemplate(rawValue: chatTemplate) == nil {
            throw ValidationError("unknown chat template '\(chatTemplate)'; choose one of "
                + ChatTemplate.allCases.map(\.rawValue).joined(separator: ", "))
        }
    }

    func run() throws {
        let model = try compute.loadModel(modelOptions.path)
        guard let template = chatTemplate.flatMap(ChatTemplate.init(rawValue:)) ?? model.chatTemplate else {
            throw ValidationError("the model has no chat template SwiftGPT recognises; pass --chat-template NAME")
        }
        var session = ChatSession(model: model, template: template, system: system, sampling: sampling.options,
                                  maxTokens: n)
        if let prompt {
            let stats = try session.respond(to: prompt) { Console.out($0) }
            Console.out("\n")
            if !quiet { Console.err(formatStats(model, stats)) }
            return
        }
        while let line = readLine() {
            let message = line.trimmingCharacters(in: .whitespaces)
            if message.isEmpty { continue }
            let stats = try session.respond(to: message) { Console.out($0) }
            Console.out("\n")
            if !quiet { Console.err(formatStats(model, stats)) }
        }
    }
}
