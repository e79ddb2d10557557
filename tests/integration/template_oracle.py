#!/usr/bin/env python3
"""template_oracle.py: our Go-template subset against Prometheus' own.

A rule file with one always-firing alerting rule whose annotations are the
templates below, and a promtool unit test that expects no alert: both
`promtool test rules` and `agentmon rules test` then print the alert they
got, annotations expanded. The expansions must be identical, byte for byte.

usage: template_oracle.py AGENTMON [WORKDIR]   (exit 0 when they agree)
"""
import os
import re
import subprocess
import sys
import tempfile

TEMPLATES = r'''
{{ $labels.job }}
{{ .Labels.instance }}
{{ $value }}
{{ .Value }}
{{ $externalLabels.cluster }}
{{ $externalURL }}
{{ $labels.missing }}x
{{ humanize $value }}
{{ humanize 1234567 }}
{{ humanize 0.000123 }}
{{ humanize 0 }}
{{ humanize1024 1048576 }}
{{ humanize1024 0.5 }}
{{ humanizeDuration 3725 }}
{{ humanizeDuration 0.25 }}
{{ humanizeDuration 90061 }}
{{ humanizeDuration 0 }}
{{ humanizeDuration -65 }}
{{ humanizePercentage 0.1234 }}
{{ humanizeTimestamp 1700000000.5 }}
{{ humanizeTimestamp 0 }}
{{ $value | humanize }}
{{ printf "%.2f" $value }}
{{ printf "%s=%v %d" "a" 1.5 3 }}
{{ printf "%5.1f|%-6s|%x" 3.14159 "ab" 255 }}
{{ printf "%q" $labels.job }}
{{ title "hello world-foo" }}
{{ toUpper "abc" }} {{ toLower "ABC" }}
{{ if gt $value 1.0 }}big{{ else }}small{{ end }}
{{ if eq $labels.job "api" }}api{{ else if eq $labels.job "web" }}web{{ else }}other{{ end }}
{{ if and (gt $value 0.5) (lt $value 2.0) }}in{{ end }}
{{ if or (eq 1 2) (ne "a" "b") }}yes{{ end }}
{{ if not false }}not{{ end }}
{{ with $labels.job }}job={{ . }}{{ end }}
{{ with $labels.missing }}x{{ else }}none{{ end }}
{{ $x := 5 }}{{ $x }}{{ $x = 6 }}{{ $x }}
{{- " trimmed " -}} |
{{ len $labels.job }}
{{ index $labels "job" }}
{{ range $k, $v := $labels }}{{ $k }}={{ $v }};{{ end }}
{{ range $labels }}{{ . }},{{ end }}
{{ print 1 2 "a" "b" 3 }}
{{ println "x" 1 }}
{{ "quoted" }} {{ `raw` }} {{ 42 }} {{ 1.5e3 }} {{ true }}
{{ match "a.c" "abc" }} {{ match "^x" "abc" }}
{{ reReplaceAll "(a+)" "<$1>" "baaac aa" }}
{{ stripPort "host:9090" }} {{ stripPort "[::1]:80" }}
{{ html "<a&b>" }}
{{ urlquery "a b&c" }}
{{ $labels }}
{{/* a comment */}}after
{{ if eq $labels.job "api" -}} x {{- end }}
{{ eq $value 1.5 }}
{{ lt "a" "b" }} {{ ge 2 2 }}
{{ range query "vector(7)" }}{{ .Value }}{{ .Labels }}{{ end }}
{{ query "up" | first | value }}
{{ with query "up" }}{{ . | first | label "instance" }}{{ end }}
{{ (query "scalar(up)" | first).Value }}
{{ query "up == 5" | len }}
{{ range query "sort_desc(up)" }}{{ .Labels.instance }} {{ end }}
{{ parseDuration "1h30m" }}
{{ gt $value 1 }}
{{ first (query "vector(1) == 2") }}
{{ .Foo }}
{{ printf "%d" $value }}
{{ humanize "abc" }}
'''.strip().splitlines()


def main():
    agentmon = sys.argv[1]
    work = sys.argv[2] if len(sys.argv) > 2 else tempfile.mkdtemp()
    rules = os.path.join(work, 'tmpl_rules.yml')
    with open(rules, 'w') as f:
        f.write('groups:\n  - name: t\n    rules:\n      - alert: T\n        expr: up * 1.5\n'
                '        annotations:\n')
        for i, t in enumerate(TEMPLATES):
            f.write("          a%03d: '%s'\n" % (i, t.replace("'", "''")))
    test = os.path.join(work, 'tmpl_test.yml')
    with open(test, 'w') as f:
        f.write('rule_files: [tmpl_rules.yml]\ntests:\n  - interval: 1m\n'
                '    external_labels: {cluster: prod}\n    external_url: http://prom.example:9090/prefix\n'
                '    input_series:\n'
                "      - series: 'up{job=\"api\",instance=\"a:1\"}'\n        values: '1x5'\n"
                '    alert_rule_test:\n      - eval_time: 2m\n        alertname: T\n'
                '        exp_alerts: []\n')
    prom = subprocess.run(['promtool', 'test', 'rules', test], capture_output=True, text=True)
    ours = subprocess.run([agentmon, 'rules', 'test', test], capture_output=True, text=True)

    def annotations(out):
        m = re.search(r'Annotations:\{(.*)\}', out)
        if not m:
            return None
        return dict(re.findall(r'(a\d{3})="((?:[^"\\]|\\.)*)"', m.group(1)))
    p, o = annotations(prom.stderr), annotations(ours.stderr)
    if p is None or o is None:
        print('template_oracle: no alert in output\n--- promtool\n%s\n--- agentmon\n%s'
              % (prom.stderr, ours.stderr))
        return 1
    bad = 0
    for i, t in enumerate(TEMPLATES):
        k = 'a%03d' % i
        a, b = p.get(k), o.get(k)
        same = a == b
        if not same and a is not None and b is not None and a.startswith('<error expanding') \
                and b.startswith('<error expanding'):
            same = True  # both fail at run time; Go's message is not ours word for word
        if not same:
            print('MISMATCH %s\n  prometheus %r\n  agentmon   %r' % (t, a, b))
            bad += 1
    print('template_oracle: %d templates, %d mismatches' % (len(TEMPLATES), bad))
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
