/* SPDX-License-Identifier: MIT */
/* examples/chat's command parser: text lines and JSON requests mean the
 * same thing, so no client can turn a whisper into a broadcast. */
#include "support/test.h"
#include "../../examples/chat/commands.h"

#include <string.h>

static chat_cmd text(const char *line)
{
    chat_cmd c;
    assert_int_equal(chat_parse_text(line, strlen(line), &c), 0);
    return c;
}

static chat_cmd json(const char *doc)
{
    chat_cmd c;
    assert_int_equal(chat_parse_json(doc, strlen(doc), &c), 0);
    return c;
}

static void test_text_commands(void **state)
{
    (void)state;
    chat_cmd c = text("hello there");
    assert_int_equal(c.kind, CMD_MESSAGE);
    assert_string_equal(c.text, "hello there");
    chat_cmd_free(&c);
    c = text("/whisper bob  psst, it is me");
    assert_int_equal(c.kind, CMD_WHISPER);
    assert_string_equal(c.arg, "bob");
    assert_string_equal(c.text, "psst, it is me");
    chat_cmd_free(&c);
    c = text("/name  carol ");
    assert_int_equal(c.kind, CMD_RENAME);
    assert_string_equal(c.arg, "carol");
    chat_cmd_free(&c);
    c = text("/users");
    assert_int_equal(c.kind, CMD_USERS);
    chat_cmd_free(&c);
    static const char *const bad[] = {"/whisper", "/whisper bob", "/whisper bob   ", "/name",
                                      "/nope x", "/"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        c = text(bad[i]);
        assert_int_equal(c.kind, CMD_ERROR);
        chat_cmd_free(&c);
    }
}

/* The text of a JSON "message" goes through the text parser. */
static void test_json_message_text_is_parsed(void **state)
{
    (void)state;
    chat_cmd c = json("{\"type\":\"message\",\"text\":\"/whisper bob psst\"}");
    assert_int_equal(c.kind, CMD_WHISPER);
    assert_string_equal(c.arg, "bob");
    assert_string_equal(c.text, "psst");
    chat_cmd_free(&c);
    c = json("{\"type\":\"message\",\"text\":\"/users\"}");
    assert_int_equal(c.kind, CMD_USERS);
    chat_cmd_free(&c);
    c = json("{\"type\":\"message\",\"text\":\"/whisper bob\"}");
    assert_int_equal(c.kind, CMD_ERROR); /* an incomplete whisper is refused, not broadcast */
    chat_cmd_free(&c);
    c = json("{\"type\":\"message\",\"text\":\"just words\"}");
    assert_int_equal(c.kind, CMD_MESSAGE);
    assert_string_equal(c.text, "just words");
    chat_cmd_free(&c);
}

static void test_json_requests(void **state)
{
    (void)state;
    chat_cmd c = json("{\"type\":\"whisper\",\"to\":\"bob\",\"text\":\"/not a command\"}");
    assert_int_equal(c.kind, CMD_WHISPER);
    assert_string_equal(c.text, "/not a command");
    chat_cmd_free(&c);
    c = json("{\"type\":\"rename\",\"name\":\"dave\"}");
    assert_int_equal(c.kind, CMD_RENAME);
    chat_cmd_free(&c);
    static const char *const bad[] = {"", "{", "[]", "{\"type\":1}", "{\"type\":\"message\"}",
                                      "{\"type\":\"whisper\",\"text\":\"x\"}", "{\"type\":\"x\"}"};
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        c = json(bad[i]);
        assert_int_equal(c.kind, CMD_ERROR);
        chat_cmd_free(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_text_commands),
        cmocka_unit_test(test_json_message_text_is_parsed),
        cmocka_unit_test(test_json_requests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
