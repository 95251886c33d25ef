// gpt tokenize: the token ids of a text, with llama-tokenize's defaults: BOS as the model's metadata says
// (--no-bos drops it), special tokens such as <|im_start|> recognised (--no-parse-special: plain text), the text
// from an argument or stdin; --detokenize turns ids back into text.
import ArgumentParser
import Foundation
import SwiftGPT

struct Tokenize: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the token ids of a text (or, with --detokenize, the text of token ids).",
        discussion: "Without TEXT (or with --stdin) the text is read from stdin.")

    @OptionGroup var modelOptions: ModelOptions
    @Argument(help: "The text to tokenize (or ids with --detokenize).")
    var text: String?
    @Flag(help: "Read the text from stdin.")
    var stdin = false
    @Flag(help: "Show each token's text next to its id.")
    var pieces = false
    @OptionGroup var special: SpecialTokenFlags
    @Flag(name: .customLong("no-bos"), help: "Do not add the BOS token, even when the model's metadata asks for it.")
    var noBOS = false
    @Flag(help: "Turn token ids (separated by spaces or commas) back into text.")
    var detokenize = false

    func validate() throws {
        if stdin && text != nil { throw ValidationError("give the text as an argument or with --stdin, not both") }
    }

    func run() throws {
        let input: String
        if let text {
            input = text
        } else {
            input = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        }
        let file = try GGUFFile(path: modelOptions.path)
        let tokenizer = try BPETokenizer(gguf: file)
        if detokenize {
            let separators = CharacterSet(charactersIn: " ,[]\n\t\r")
            let words = input.components(separatedBy: separators).filter { !$0.isEmpty }
            var ids: [Int32] = []
            for word in words {
                guard let id = Int32(word), id >= 0, Int(id) < tokenizer.vocabSize else {
                    throw ValidationError("'\(word)' is not a token id of this model (0 to \(tokenizer.vocabSize - 1))")
                }
                ids.append(id)
            }
            Console.out(tokenizer.decode(ids) + "\n")
            return
        }
        var ids = tokenizer.encode(input, parseSpecial: special.parseSpecial)
        if noBOS, tokenizer.addBOS, let bos = tokenizer.bosID, ids.first == bos { ids.removeFirst() }
        if pieces {
            for id in ids { Console.out("\(id) -> '\(tokenizer.decode([id]))'\n") }
        } else {
            Console.out(ids.map(String.init).joined(separator: " ") + "\n")
        }
    }
}
