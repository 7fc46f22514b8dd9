/*
 * Message framing and the request's semantic checks (RFC 9112 6.1-6.3, 3.2, 9.3;
 * RFC 9110 10.1.1), applied to a syntactically complete head.
 */
#ifndef SLUICE_HTTP_FRAMING_H
#define SLUICE_HTTP_FRAMING_H

#include "sluice_http_parser.h"

/* Fills body_kind, content_length, keep_alive and expect_continue; 0 or a negative sluice_http_error. */
int sluice__http_apply_framing(sluice_http_request *req, const sluice_http_limits *limits);

#endif
