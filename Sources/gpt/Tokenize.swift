// gpt tokenize: print token ids of a text, like llama.cpp's tokenizer tool.
import ArgumentParser
import SwiftGPT

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the token ids of a text.")

    @OptionGroup var modelOptions: ModelOptions
    @Argument(help: "The text to tokenize.")
    var text: String
    @Flag(help: "Show each token's text next to its id.")
    var pieces = false
    @Flag(name: .customLong("parse-special"), help: "Recognise special tokens such as <|im_start|>.")
    var parseSpecial = false

    func run() throws {
        let file = try GGUFFile(path: modelOptions.path)
        let tokenizer = try BPETokenizer(gguf: file)
        let ids = tokenizer.encode(text, parseSpecial: parseSpecial)
        if pieces {
            for id in ids {
                let piece = tokenizer.decode([id])
                Console.out("\(id) -> '\(piece)'\n")
            }
        } else {
            Console.out(ids.map(String.init).joined(separator: " ") + "\n")
        }
    }
}
