/* SPDX-License-Identifier: MIT */
/* The terminal side of the chat client: lines typed (with line editing and
 * history through libedit when stdin is a terminal and the build has it,
 * plain lines otherwise) and lines printed above the one being typed, so
 * that incoming messages never garble it. Everything runs on the client's
 * loop: stdin is a watched fd, never a blocking read. */
#ifndef CHAT_CLIENT_TERMINAL_H
#define CHAT_CLIENT_TERMINAL_H

#include <stdbool.h>
#include <wschat.h>

typedef struct terminal terminal;

/* Called with each line typed (without its newline), and with NULL at the
 * end of input (^D, or the end of a pipe). */
typedef void (*terminal_line_fn)(const char *line, void *ud);

/* Starts reading stdin on loop l. Returns NULL with a message on stderr if
 * stdin cannot be read. */
terminal *terminal_open(ws_loop *l, terminal_line_fn fn, void *ud);
/* Stops reading until terminal_resume (lines are not lost: they wait). */
void terminal_pause(terminal *t);
void terminal_resume(terminal *t);
/* Prints one line above the prompt (or plainly without a terminal). */
void terminal_print(terminal *t, const char *fmt, ...) WS_PRINTF(2, 3);
/* Restores the terminal and frees everything. */
void terminal_close(terminal *t);
/* true when line editing is in use. */
bool terminal_editing(const terminal *t);

#endif
