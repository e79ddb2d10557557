#!/usr/bin/python3
"""grafana_gen_test.py: scripts/grafana_dashboards.py refuses bad panels.def
input by line, with a message, and lays out good input as Grafana expects.

    /usr/bin/python3 tests/integration/grafana_gen_test.py     (grafana_panels.sh runs it)
"""
import os
import sys
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import grafana_dashboards as gd  # noqa: E402

HEAD = "dashboard d-1 | D | d.json\n"
GOOD = HEAD + "stat 6x4 | S | none\n  q | up\n"

# (input, a word the message must hold)
BAD = [
    ("stat 6x4 | S\n  q | up\n", "before the first dashboard"),
    ("dashboard Bad_Uid | D | d.json\n", "dashboard uid"),
    ("dashboard " + "x" * 41 + " | D | d.json\n", "dashboard uid"),
    ("dashboard d-1 | D\n", "dashboard needs"),
    ("dashboard d-1 | D | d.json | extra\n", "dashboard needs"),
    (HEAD + "stat 25x4 | S\n  q | up\n", "panel size"),
    (HEAD + "stat 0x4 | S\n  q | up\n", "panel size"),
    (HEAD + "stat 6x0 | S\n  q | up\n", "panel size"),
    (HEAD + "stat six | S\n  q | up\n", "panel size"),
    (HEAD + "stat 6x4\n  q | up\n", "stat needs"),
    (HEAD + "stat 6x4 | S | none | sparkle\n  q | up\n", "unknown panel option"),
    (HEAD + "q | up\n", "outside a panel"),
    (HEAD + "note hello\n", "outside a panel"),
    (HEAD + "stat 6x4 | S\n  q up\n", "LEGEND | EXPR"),
    (HEAD + "stat 6x4 | S\n  q legend |   \n", "LEGEND | EXPR"),
    (HEAD + "stat 6x4 | S\n", "has no query"),
    (HEAD + "stat 6x4 | S\nrow R\n  q | up\n", "outside a panel"),
    (HEAD + "var a | A | up\n", "label_values"),
    (HEAD + "var a | A\n", "var needs"),
    (HEAD + "piechart 6x4 | S\n  q | up\n", "unknown line"),
    (HEAD + "\x00\n", "unknown line"),
    (GOOD + GOOD, "two dashboards"),
    (GOOD + "dashboard d-2 | D | e.json\nstat 6x4 | S\n  q | up\n", "two dashboards"),
]


class Parse(unittest.TestCase):
    def parse_checked(self, text):
        dashboards = gd.parse(text)
        seen = set()
        for d in dashboards:  # what load() adds: unique uids, files, titles
            for key in ("uid", "file", "title"):
                if (key, d[key]) in seen:
                    gd._fail(d["line"], "two dashboards with the %s %r" % (key, d[key]))
                seen.add((key, d[key]))
        return dashboards

    def test_bad_inputs_are_refused_by_line(self):
        for text, word in BAD:
            with self.subTest(text=text):
                with self.assertRaises(gd.DefError) as cm:
                    self.parse_checked(text)
                self.assertIn(word, str(cm.exception))
                self.assertRegex(str(cm.exception), r"panels\.def:\d+: ")

    def test_layout_wraps_and_rows_start_lines(self):
        text = HEAD + "".join("timeseries 10x%d | P%d\n  q | up\n" % (3 + i, i) for i in range(3))
        text += "row R\nstat 24x2 | S\n  q L | up\n"
        panels = gd.layout(gd.parse(text)[0])
        pos = [(p["gridPos"]["x"], p["gridPos"]["y"], p["gridPos"]["w"], p["gridPos"]["h"])
               for p in panels]
        self.assertEqual(pos, [(0, 0, 10, 3), (10, 0, 10, 4), (0, 4, 10, 5), (0, 9, 24, 1),
                               (0, 10, 24, 2)])
        self.assertEqual([p["id"] for p in panels], [1, 2, 3, 4, 5])
        self.assertEqual(panels[3]["type"], "row")
        self.assertEqual(panels[4]["targets"][0]["legendFormat"], "L")

    def test_every_query_names_the_data_source(self):
        dash = gd.dashboard_json(gd.parse(GOOD + "var a | A | label_values(up, job)\n")[0])
        self.assertEqual(dash["templating"]["list"][0]["datasource"]["uid"], gd.DATASOURCE_UID)
        for p in dash["panels"]:
            self.assertEqual(p["datasource"]["uid"], gd.DATASOURCE_UID)
            for t in p["targets"]:
                self.assertEqual(t["datasource"]["uid"], gd.DATASOURCE_UID)

    def test_the_shipped_file_parses(self):
        self.assertGreaterEqual(len(gd.load()), 13)


if __name__ == "__main__":
    unittest.main(verbosity=1)
