/* SPDX-License-Identifier: MIT */
/* The shared-group envelope: written and read back, what is not ours
 * refused, and the per-origin sequence table (in order, duplicates, gaps,
 * a full table evicting the origin heard least recently). */
#include "support/test.h"

#include "broker/envelope.h"

#include <string.h>

static void test_round_trip(void **state)
{
    (void)state;
    uint8_t m[WS__ENV_HEADER + 3];
    ws__envelope e = {.node = 0x0102030405060708u, .seq = 0xfffffffffffffff0u, .binary = true};
    ws__envelope_header(&e, m);
    memcpy(m + WS__ENV_HEADER, "abc", 3);
    ws__envelope got;
    assert_int_equal(ws__envelope_parse(m, sizeof m, &got), 0);
    assert_true(got.node == e.node && got.seq == e.seq && got.binary);
    assert_int_equal(got.len, 3);
    assert_memory_equal(got.data, "abc", 3);
    assert_int_equal(ws__envelope_parse(m, WS__ENV_HEADER - 1, &got), -1); /* short */
    m[0] = 'X';
    assert_int_equal(ws__envelope_parse(m, sizeof m, &got), -1); /* another magic */
    m[0] = 'W';
    m[2] = 2;
    assert_int_equal(ws__envelope_parse(m, sizeof m, &got), -1); /* another version */
    m[2] = 1;
    m[3] = 7;
    assert_int_equal(ws__envelope_parse(m, sizeof m, &got), -1); /* an unknown kind */
}

static void test_origins(void **state)
{
    (void)state;
    ws__origins o;
    memset(&o, 0, sizeof o);
    uint64_t gap;
    assert_int_equal(ws__origins_note(&o, 1, 10, &gap), WS__SEQ_NEW);
    assert_int_equal(gap, 0); /* first heard: what came before is not a gap */
    assert_int_equal(ws__origins_note(&o, 1, 11, &gap), WS__SEQ_NEW);
    assert_int_equal(gap, 0);
    assert_int_equal(ws__origins_note(&o, 1, 11, &gap), WS__SEQ_DUPLICATE);
    assert_int_equal(ws__origins_note(&o, 1, 5, &gap), WS__SEQ_DUPLICATE);
    assert_int_equal(ws__origins_note(&o, 1, 15, &gap), WS__SEQ_NEW);
    assert_int_equal(gap, 3);
    /* A full table: the origin heard least recently gives way. */
    for (uint64_t n = 100; n < 100 + WS__ORIGINS; n++)
        ws__origins_note(&o, n, 1, &gap);
    assert_int_equal(ws__origins_note(&o, 1, 16, &gap), WS__SEQ_NEW);
    assert_int_equal(gap, 0); /* 1 was evicted: heard as new */
    assert_int_equal(ws__origins_note(&o, 100 + WS__ORIGINS - 1, 1, &gap), WS__SEQ_DUPLICATE);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_round_trip),
                                       cmocka_unit_test(test_origins)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
