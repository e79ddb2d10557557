/*
** assets.h: the dashboard's files (web/index.html, app.css, app.js, panels.json and
** the chart library), compiled into the program by cmake/embed_web.cmake.
** Each is NUL-terminated (not counted in len). Read-only: any thread.
*/
#ifndef AM_WEB_ASSETS_H
#define AM_WEB_ASSETS_H

#include <stddef.h>

typedef struct am_web_asset {
    const char *name; /* "app.js": the name the page asks for under /ui/ */
    const char *type; /* its Content-Type */
    const unsigned char *data;
    size_t len;
} am_web_asset;

extern const am_web_asset am__web_assets[];
extern const size_t am__n_web_assets;

/* The asset called name, or NULL. */
const am_web_asset *am__web_asset(const char *name);

#endif
