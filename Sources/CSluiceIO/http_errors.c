/* Status codes and messages for the parser's refusals. */
#include "sluice_http_parser.h"

typedef struct error_info {
    int status;
    const char *message;
} error_info;

static const error_info errors[] = {
    {400, "malformed request line"},
    {400, "invalid method"},
    {400, "invalid request target"},
    {400, "malformed HTTP version"},
    {505, "HTTP version not supported"},
    {414, "request line too long"},
    {400, "CR not followed by LF"},
    {400, "LF without CR"},
    {400, "invalid header field name"},
    {400, "whitespace before colon in header field"},
    {400, "invalid byte in header field value"},
    {400, "obsolete line folding is not allowed"},
    {431, "header section too large"},
    {431, "too many header fields"},
    {400, "missing Host header"},
    {400, "more than one Host header"},
    {400, "invalid Host header"},
    {400, "invalid Content-Length"},
    {400, "more than one Content-Length"},
    {400, "Content-Length together with Transfer-Encoding"},
    {400, "final transfer coding is not chunked"},
    {400, "malformed Transfer-Encoding"},
    {400, "Transfer-Encoding in an HTTP/1.0 request"},
    {501, "transfer coding not implemented"},
    {417, "unsupported expectation"},
    {413, "request body too large"},
    {400, "invalid chunk size"},
    {400, "invalid chunk extension"},
    {400, "chunk data not followed by CRLF"},
    {400, "invalid trailer field"},
    {431, "trailer section too large"},
    {501, "method not implemented"},
};

static const error_info *lookup(int error) {
    int index = error - SLUICE_HTTP_ERR_BAD_REQUEST_LINE;
    if (index < 0 || index >= (int)(sizeof(errors) / sizeof(errors[0]))) return NULL;
    return &errors[index];
}

int sluice_http_error_status(int error) {
    const error_info *info = lookup(error);
    return info ? info->status : 400;
}

const char *sluice_http_error_message(int error) {
    const error_info *info = lookup(error);
    return info ? info->message : "bad request";
}

_Static_assert(sizeof(errors) / sizeof(errors[0]) == SLUICE_HTTP_ERR_LAST_ - SLUICE_HTTP_ERR_BAD_REQUEST_LINE,
               "every sluice_http_error has a row in errors[]");
