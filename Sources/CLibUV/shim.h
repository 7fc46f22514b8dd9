#ifndef SLUICE_CLIBUV_SHIM_H
#define SLUICE_CLIBUV_SHIM_H
/* The system libuv (Debian: libuv1-dev), found through pkg-config. */
#include <uv.h>
#endif
