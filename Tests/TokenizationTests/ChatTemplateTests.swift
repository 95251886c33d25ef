// Chat templates: exact rendered text per format, detection from Jinja templates (the real GGUF's included), and
// the rendered ChatML prompt tokenized with its control tokens.

import Testing

@testable import Tokenization

@Suite("Chat templates")
struct ChatTemplateTests {
    let conversation: [ChatMessage] = [.system("You are terse."), .user("Hi there!")]

    @Test("ChatML system + user, with the generation prompt")
    func chatml() {
        #expect(
            ChatTemplate.chatml.render(conversation, addGenerationPrompt: true)
                == "<|im_start|>system\nYou are terse.<|im_end|>\n<|im_start|>user\nHi there!<|im_end|>\n"
                + "<|im_start|>assistant\n")
        #expect(
            ChatTemplate.chatml.render([.user("a"), .assistant("b")], addGenerationPrompt: false)
                == "<|im_start|>user\na<|im_end|>\n<|im_start|>assistant\nb<|im_end|>\n")
    }

    @Test(
        "other formats render as llama.cpp's llm_chat_apply_template",
        arguments: [
            (
                ChatTemplate.llama3,
                "<|start_header_id|>system<|end_header_id|>\n\nYou are terse.<|eot_id|>"
                    + "<|start_header_id|>user<|end_header_id|>\n\nHi there!<|eot_id|>"
                    + "<|start_header_id|>assistant<|end_header_id|>\n\n"
            ),
            (.gemma, "<start_of_turn>user\nYou are terse.\n\nHi there!<end_of_turn>\n<start_of_turn>model\n"),
            (.zephyr, "<|system|>\nYou are terse.<|endoftext|>\n<|user|>\nHi there!<|endoftext|>\n<|assistant|>\n"),
            (.phi3, "<|system|>\nYou are terse.<|end|>\n<|user|>\nHi there!<|end|>\n<|assistant|>\n"),
            (.mistral, "[INST] You are terse.\nHi there! [/INST]"),
            (.llama2, "[INST] <<SYS>>\nYou are terse.\n<</SYS>>\n\nHi there! [/INST]"),
            (.mistralV7, "[SYSTEM_PROMPT] You are terse.[/SYSTEM_PROMPT][INST] Hi there![/INST]"),
        ])
    func formats(_ template: ChatTemplate, _ expected: String) {
        #expect(template.render(conversation, addGenerationPrompt: true) == expected)
    }

    @Test("multi-turn [INST] formats reopen a turn after each answer")
    func instTurns() {
        let chat: [ChatMessage] = [.user("a"), .assistant("b"), .user("c")]
        #expect(ChatTemplate.mistral.render(chat, addGenerationPrompt: true) == "[INST] a [/INST]b</s>[INST] c [/INST]")
    }

    @Test(
        "detection from template text",
        arguments: [
            ("{% for m in messages %}{{'<|im_start|>' + m['role'] + '\\n'}}{% endfor %}", ChatTemplate?.some(.chatml)),
            ("{{ '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' }}", .llama3),
            ("{{ '<start_of_turn>' + role + '\\n' }}", .gemma),
            ("{{ '<|user|>\\n' + message['content'] + '<|endoftext|>' }}", .zephyr),
            ("{{ bos_token }}{{ '[INST] ' + message['content'] + ' [/INST]' }}", .mistral),
            ("[INST] <<SYS>>\\n{{ system }}\\n<</SYS>>", .llama2),
            ("[SYSTEM_PROMPT]{{ system }}[/SYSTEM_PROMPT][INST]", .mistralV7),
            ("{{'<|im_start|>' + role + '<|im_sep|>'}}", nil),  // phi-4: not ChatML
            ("chatml", .chatml),
            ("llama2", .mistral),
            ("something else", nil),
            ("", nil),
        ])
    func detect(_ jinja: String, _ expected: ChatTemplate?) {
        #expect(ChatTemplate.detect(jinja) == expected)
    }

    @Test("the real GGUF's template is ChatML", .enabled(if: RealModel.isPresent, RealModel.absentReason))
    func detectRealModel() throws {
        let file = try #require(RealModel.loaded).file
        #expect(ChatTemplate.detect(try file.string("tokenizer.chat_template", default: nil)) == .chatml)
        #expect(ChatTemplate.detect(nil) == nil)
    }

    @Test(
        "a rendered ChatML prompt encodes its markers as control tokens",
        .enabled(if: RealModel.isPresent, RealModel.absentReason))
    func chatPromptTokens() throws {
        let tokenizer = try #require(RealModel.loaded).tokenizer
        let prompt = ChatTemplate.chatml.render(conversation, addGenerationPrompt: true)
        let ids = tokenizer.encode(prompt, parseSpecial: true)
        let start = try #require(tokenizer.tokenID("<|im_start|>"))
        let end = try #require(tokenizer.tokenID("<|im_end|>"))
        #expect(ids.filter { $0 == start }.count == 3)
        #expect(ids.filter { $0 == end }.count == 2)
        #expect(ids.first == start)
        #expect(tokenizer.decode(ids) == prompt)
        #expect(!tokenizer.encode(prompt).contains(start), "without parseSpecial the markers are plain text")
    }
}
