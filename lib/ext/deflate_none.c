/* SPDX-License-Identifier: MIT */
/* Built without zlib: permessage-deflate is not available. */
#include "wschat/error.h"
#include "wschat/ext.h"

ws_extension *ws_deflate_new(const ws_deflate_options *opts, int *err)
{
    (void)opts;
    if (err)
        *err = WS_ENOTSUP;
    return NULL;
}

void ws_deflate_free(ws_extension *ext) { (void)ext; }
