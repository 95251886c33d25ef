// FuzzTargets: the entry points the fuzzer (`make fuzz`, Sources/gpt-fuzz) and the regression tests feed with
// arbitrary bytes: the GGUF reader with the hyper-parameter validation and tokenizer built on it, the safetensors
// reader, a Hugging Face config.json (opened as a whole folder with the tiny GPT-2's weights), the tokenizer, and
// the chat template renderer. Errors are the expected outcome; a trap, a sanitizer report or a broken invariant
// (`check` below) is a finding. Not part of the `SwiftGPT` library.
import Foundation
import SwiftGPT

public enum FuzzTarget: String, CaseIterable, Sendable {
    case gguf, safetensors, hfconfig, tokenizer, chat

    /// Runs one input through the target.
    public func run(_ data: [UInt8]) {
        switch self {
        case .gguf: Self.gguf(data)
        case .safetensors: Self.safetensors(data)
        case .hfconfig: Self.hfConfig(data)
        case .tokenizer: Self.tokenizer(data)
        case .chat: Self.chat(data)
        }
    }

    /// A broken invariant: a finding, reported like a crash so the fuzzer keeps the input.
    static func check(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition { fatalError("fuzz invariant: \(message())") }
    }

    // MARK: - Targets

    /// Parse, then everything `gpt generate` does with a file short of uploading weights.
    static func gguf(_ data: [UInt8]) {
        guard let file = try? GGUFFile(bytes: data, name: "fuzz.gguf") else { return }
        for t in file.tensors {
            let bytes = file.bytes(of: t)
            check(bytes.count == t.byteCount, "tensor \(t.name) view")
        }
        let tokenizer = try? BPETokenizer(gguf: file)
        if let tokenizer {
            let ids = tokenizer.encode("Hello <|endoftext|> world", parseSpecial: true)
            _ = tokenizer.decode(ids)
        }
        guard let architecture = try? Architectures.make(file) else { return }
        _ = try? architecture.config.validate(against: file, tokenizer: tokenizer)
        _ = try? architecture.parameterCount(tied: true)
    }

    static func safetensors(_ data: [UInt8]) {
        guard let file = try? SafeTensorsFile(bytes: data, name: "fuzz.safetensors") else { return }
        for t in file.tensors {
            check(file.bytes(of: t).count >= 0, "tensor view")
            _ = try? file.floats(t.name)
        }
    }

    /// The bytes as config.json in a folder holding the tiny GPT-2's weights and tokenizer files (symlinks).
    static func hfConfig(_ data: [UInt8]) {
        guard let folder = scratchFolder else { return }
        guard FileManager.default.createFile(atPath: folder + "/config.json", contents: Data(data)) else { return }
        guard let model = try? HFModelFolder(path: folder) else { return }
        for name in model.tensorNames { check(model.tensorLayout(name) != nil, "listed tensor \(name) has a layout") }
        _ = try? model.makeTokenizer()
    }

    /// Encode and decode: byte-level BPE must give back the text it was given.
    static func tokenizer(_ data: [UInt8]) {
        guard let tokenizer = tinyTokenizer else { return }
        let text = String(decoding: data, as: UTF8.self)
        for parseSpecial in [false, true] {
            var ids = tokenizer.encode(text, parseSpecial: parseSpecial)
            if tokenizer.addBOS, ids.first == tokenizer.bosID { ids.removeFirst() }
            check(ids.allSatisfy { $0 >= 0 && Int($0) < tokenizer.vocabSize }, "ids in the vocabulary")
            check(tokenizer.decode(ids) == text, "decode(encode(text)) == text (parseSpecial \(parseSpecial))")
        }
    }

    /// First byte: the template; the rest: messages separated by 0 bytes, roles cycling system/user/assistant
    /// (a 1 byte before a message makes its role the next text). Control tokens may come only from markup.
    static func chat(_ data: [UInt8]) {
        guard let tokenizer = tinyTokenizer, let first = data.first else { return }
        let template = ChatTemplate.allCases[Int(first) % ChatTemplate.allCases.count]
        let roles = ["system", "user", "assistant"]
        var messages: [ChatMessage] = []
        for (i, part) in data.dropFirst().split(separator: 0, omittingEmptySubsequences: false).enumerated() {
            messages.append(ChatMessage(role: roles[i % 3], content: String(decoding: part, as: UTF8.self)))
        }
        let prompt = template.prompt(messages, addGenerationPrompt: first & 0x80 != 0)
        let bytes = Array(prompt.text.utf8)
        var end = 0
        for range in prompt.markup {
            check(range.lowerBound >= end && range.upperBound <= bytes.count && !range.isEmpty, "markup ranges")
            end = range.upperBound
        }
        check(prompt.text == template.render(messages, addGenerationPrompt: first & 0x80 != 0), "render == prompt")
        // The tiny vocabulary's one control token: it may appear only as often as the markup writes it.
        guard let endOfText = tokenizer.tokenID("<|endoftext|>") else { return }
        let marker = Array("<|endoftext|>".utf8)
        let inMarkup = prompt.markup.reduce(0) { $0 + occurrences(of: marker, in: Array(bytes[$1])) }
        let ids = tokenizer.encode(prompt)
        check(ids.filter { $0 == endOfText }.count == inMarkup, "control tokens only from the template's markup")
    }

    // MARK: - Fixtures

    /// Tests/GPT2Tests/Resources of this checkout (the fuzzer runs from the repository).
    static let resources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Tests/GPT2Tests/Resources").path

    static let tinyTokenizer: BPETokenizer? = {
        guard let file = try? GGUFFile(path: resources + "/tiny-gpt2-f16.gguf.data") else { return nil }
        return try? BPETokenizer(gguf: file)
    }()

    /// A folder with symlinks to the tiny GPT-2's weights and tokenizer; config.json is written per input.
    static let scratchFolder: String? = {
        let folder = NSTemporaryDirectory() + "/swiftgpt-fuzz-\(getpid())"
        try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        for name in ["model.safetensors", "vocab.json", "merges.txt"] {
            try? FileManager.default.createSymbolicLink(
                atPath: folder + "/" + name, withDestinationPath: resources + "/tiny-gpt2/" + name)
        }
        return folder
    }()

    static func occurrences(of needle: [UInt8], in haystack: [UInt8]) -> Int {
        guard !needle.isEmpty, haystack.count >= needle.count else { return 0 }
        var count = 0
        var i = 0
        while i + needle.count <= haystack.count {
            if Array(haystack[i..<(i + needle.count)]) == needle {
                count += 1
                i += needle.count
            } else {
                i += 1
            }
        }
        return count
    }
}
