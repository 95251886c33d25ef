// GNU readline and history (Debian: libreadline-dev), for the line editor of `gpt chat` on a terminal.
// readline.h uses FILE without including stdio.h, so it comes first.
#include <stdio.h>
#include <readline/readline.h>
#include <readline/history.h>

// Readline's settings are C globals, which Swift 6 does not let code touch directly: small accessors instead.

/// SIGINT stays with the program (it interrupts the poll loop), window size changes are readline's, and the
/// prompt goes to stderr so that stdout carries only answers.
static inline void gpt_readline_setup(void) {
    rl_catch_signals = 0;
    rl_catch_sigwinch = 1;
    rl_outstream = stderr;
}

/// Characters in the line being edited.
static inline int gpt_readline_length(void) { return rl_end; }

/// Ends the current prompt line on the terminal (after Ctrl-C or Ctrl-D).
static inline void gpt_readline_newline(void) { fputs("\n", stderr); }
