/*
** bench_dashboard.c: what the web dashboard weighs.
**
** WHAT IT MEASURES, AND WHY
**   dashboard_asset_bytes      the page's own files (index.html, app.css,
**                              app.js, panels.json) as compiled into the
**                              program: what a browser loads besides the
**                              chart library (target <= 150 KB, issue 13)
**   dashboard_chartlib_bytes   Chart.js as embedded (Debian's minified
**                              build), for the total a first visit costs
** Read from the embedded table itself (src/web/assets.h), so the figure is
** what the binary serves, byte for byte. The collector's CPU time per
** refresh and the time to first render are measured in a browser, by
** bench/dashboard.js (`make bench` runs it after am-bench).
*/
#include <string.h>

#include "bench.h"
#include "web/assets.h"

void bench_group_dashboard(void)
{
    double own = 0, lib = 0;
    for (size_t i = 0; i < am__n_web_assets; i++) {
        if (strcmp(am__web_assets[i].name, "chart.js") == 0)
            lib += (double)am__web_assets[i].len;
        else
            own += (double)am__web_assets[i].len;
    }
    bench_fig f = {0};
    f.name = "dashboard_asset_bytes";
    f.unit = "bytes";
    f.value = own;
    f.has_target = true;
    f.target = 150 * 1024;
    f.reference = "{\"issue\":13}";
    f.note = "index.html + app.css + app.js + panels.json, uncompressed, as embedded";
    bench_emit(&f);
    bench_fig g = {0};
    g.name = "dashboard_chartlib_bytes";
    g.unit = "bytes";
    g.value = lib;
    g.note = "Chart.js (Debian libjs-chart.js, minified), embedded beside them";
    bench_emit(&g);
}
