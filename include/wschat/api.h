/* SPDX-License-Identifier: MIT */
/* libwschat: visibility and C++ guards shared by every public header. */
#ifndef WSCHAT_API_H
#define WSCHAT_API_H

#if defined(WS_BUILDING_LIBRARY) && defined(__GNUC__)
#define WS_API __attribute__((visibility("default")))
#else
#define WS_API
#endif

#if defined(__GNUC__)
#define WS_PRINTF(fmt, args) __attribute__((format(printf, fmt, args)))
#else
#define WS_PRINTF(fmt, args)
#endif

#ifdef __cplusplus
#define WS_BEGIN_DECLS extern "C" {
#define WS_END_DECLS }
#else
#define WS_BEGIN_DECLS
#define WS_END_DECLS
#endif

#endif
