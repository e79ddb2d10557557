"""notify_check.py: agentmon serve's notifiers against real servers.

    /usr/bin/python3 notify_check.py AGENTMON_BINARY

Everything runs on 127.0.0.1, started here and stopped at the end:

  - an HTTP receiver (this file) that records every request and checks
    the Slack, PagerDuty and webhook payloads against their documented
    schemas; one of its paths answers 500 once and then 200;
  - a real SMTP server (python3-aiosmtpd) that saves each message, parsed
    back here with Python's email package;
  - a real Alertmanager (Debian's prometheus-alertmanager 0.25) that
    agentmon sends its alerts to (alerting: alertmanagers:), routing them
    on to this receiver's webhook, and whose payload for the same alert is
    compared with agentmon's own webhook payload (fingerprint, groupKey
    and shape);
  - agentmon serve with rules, Alertmanager's route/receivers/inhibit_rules
    in its --config file, a SQLite store.

Checked: each receiver's payload; PagerDuty's trigger and resolve carry
the same dedup_key (SHA-256 of the group key); a receiver answering 500
and then 200 gets the alert exactly once more; a silence suppresses and
expiring it lets the alert through; inhibition drops the warning while
the critical of the same alert fires; a restart during a pending `for`
keeps it pending (activeAt kept) and a firing alert does not page again;
secrets (a Slack URL path, a routing key) are in no log line and not on
/metrics; bad configurations are refused naming file and line.
Exits 0 when all hold; 77 (skip) when Alertmanager or aiosmtpd is absent.
"""
import datetime
import email
import email.policy
import glob
import hashlib
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

AGENTMON = os.path.abspath(sys.argv[1])
if not shutil.which('prometheus-alertmanager'):
    print('notify: SKIP (no prometheus-alertmanager)')
    sys.exit(77)
try:
    import aiosmtpd  # noqa: F401
except ImportError:
    print('notify: SKIP (no python3-aiosmtpd)')
    sys.exit(77)

D = tempfile.mkdtemp(prefix='am-notify-')
PROCS = []
FAILS = []
SLACK_SECRET = 'T0SECRET/B0SECRET/slackpathsecret'
ROUTING_KEY = 'rk-0123456789abcdef-secret'


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    p = s.getsockname()[1]
    s.close()
    return p


def fail(msg):
    FAILS.append(msg)
    print('FAIL', msg, flush=True)


def wait_until(what, cond, timeout=30):
    end = time.time() + timeout
    while time.time() < end:
        v = cond()
        if v:
            return v
        time.sleep(0.1)
    fail('timed out waiting for ' + what)
    return None


# ---------------------------------------------------------------- the receiver
REQS = []  # (path, headers, body)
LOCK = threading.Lock()
FLAKY = {'n': 0}


class Rcv(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length', 0)))
        with LOCK:
            REQS.append((self.path, dict(self.headers), body))
            status = 200
            if self.path == '/flaky':
                FLAKY['n'] += 1
                status = 500 if FLAKY['n'] == 1 else 200
            if self.path == '/pagerduty':
                status = 202
        self.send_response(status)
        self.send_header('Content-Length', '2')
        self.end_headers()
        self.wfile.write(b'ok')

    def log_message(self, *a):
        pass


def reqs(path):
    with LOCK:
        return [(h, json.loads(b)) for p, h, b in REQS if p == path]


# ---------------------------------------------------------------- schemas
def check_type(where, v, t):
    if not isinstance(v, t):
        fail('%s: %r is not %s' % (where, v, t))
        return False
    return True


def check_webhook(p, where):
    """Alertmanager's webhook payload, version 4 (its docs)."""
    for k, t in (('version', str), ('groupKey', str), ('truncatedAlerts', int), ('status', str),
                 ('receiver', str), ('groupLabels', dict), ('commonLabels', dict),
                 ('commonAnnotations', dict), ('externalURL', str), ('alerts', list)):
        if k not in p:
            fail('%s: no %s' % (where, k))
        else:
            check_type('%s.%s' % (where, k), p[k], t)
    if p.get('version') != '4':
        fail('%s: version %r' % (where, p.get('version')))
    if p.get('status') not in ('firing', 'resolved'):
        fail('%s: status %r' % (where, p.get('status')))
    for i, a in enumerate(p.get('alerts', [])):
        for k, t in (('status', str), ('labels', dict), ('annotations', dict), ('startsAt', str),
                     ('endsAt', str), ('generatorURL', str), ('fingerprint', str)):
            if k not in a:
                fail('%s.alerts[%d]: no %s' % (where, i, k))
            else:
                check_type('%s.alerts[%d].%s' % (where, i, k), a[k], t)
        if len(a.get('fingerprint', '')) != 16:
            fail('%s.alerts[%d]: fingerprint %r' % (where, i, a.get('fingerprint')))


def check_slack(p, where):
    """A Slack incoming-webhook message with one legacy attachment."""
    check_type(where + '.attachments', p.get('attachments'), list)
    if not p.get('attachments'):
        fail(where + ': no attachments')
        return
    at = p['attachments'][0]
    for k in ('title', 'title_link', 'text', 'fallback', 'color'):
        check_type('%s.attachments[0].%s' % (where, k), at.get(k), str)
    if not at.get('title', '').startswith('['):
        fail(where + ': title %r' % at.get('title'))
    if not at.get('title_link', '').startswith('http://127.0.0.1'):
        fail(where + ': title_link %r does not lead back' % at.get('title_link'))
    if at.get('color') not in ('danger', 'good'):
        fail(where + ': color %r' % at.get('color'))
    if p.get('channel') != '#alerts':
        fail(where + ': channel %r' % p.get('channel'))


def check_pagerduty(p, where, group_key):
    """PagerDuty Events API v2 (its trigger/resolve documentation)."""
    if p.get('routing_key') != ROUTING_KEY:
        fail(where + ': routing_key')
    if p.get('event_action') not in ('trigger', 'resolve'):
        fail(where + ': event_action %r' % p.get('event_action'))
    want = hashlib.sha256(group_key.encode()).hexdigest()
    if p.get('dedup_key') != want:
        fail(where + ': dedup_key %r, Alertmanager would send %r' % (p.get('dedup_key'), want))
    pl = p.get('payload') or {}
    for k in ('summary', 'source', 'severity'):
        check_type('%s.payload.%s' % (where, k), pl.get(k), str)
    if pl.get('severity') not in ('critical', 'error', 'warning', 'info'):
        fail(where + ': severity %r' % pl.get('severity'))
    if len(pl.get('summary', '')) > 1024:
        fail(where + ': summary longer than 1024')


# ---------------------------------------------------------------- agentmon
def http_json(port, path, data=None, method=None):
    rq = urllib.request.Request('http://127.0.0.1:%d%s' % (port, path), method=method,
                                data=json.dumps(data).encode() if data is not None else None)
    if data is not None:
        rq.add_header('Content-Type', 'application/json')
    try:
        with urllib.request.urlopen(rq, timeout=10) as r:
            return r.status, json.loads(r.read() or b'null')
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b'null')


def rfc3339(t):
    return time.strftime('%Y-%m-%dT%H:%M:%S', time.gmtime(t)) + '.%03dZ' % int(t * 1000 % 1000)


def start_agentmon(cfg, log, extra=()):
    f = open(log, 'ab')
    p = subprocess.Popen([AGENTMON, 'serve', '--config', cfg] + list(extra), stdout=f,
                         stderr=subprocess.STDOUT)
    PROCS.append(p)
    return p


def stop(p):
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=20)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def main():
    rport = free_port()
    srv = http.server.ThreadingHTTPServer(('127.0.0.1', rport), Rcv)
    threading.Thread(target=srv.serve_forever, daemon=True).start()

    # the SMTP server
    smtp_port = free_port()
    with open(os.path.join(D, 'savemail.py'), 'w') as f:
        f.write('''import os, time
class Save:
    def __init__(self, d): self.d = d; os.makedirs(d, exist_ok=True)
    @classmethod
    def from_cli(cls, parser, *args): return cls(args[0])
    async def handle_DATA(self, server, session, envelope):
        name = os.path.join(self.d, '%d.eml' % time.time_ns())
        with open(name + '.tmp', 'wb') as f:
            f.write(b'X-Mail-From: %s\\r\\nX-Rcpt-To: %s\\r\\n' % (envelope.mail_from.encode(), ','.join(envelope.rcpt_tos).encode()))
            f.write(envelope.original_content)
        os.rename(name + '.tmp', name)
        return '250 OK'
''')
    env = dict(os.environ, PYTHONPATH=D)
    smtp = subprocess.Popen(['/usr/bin/python3', '-u', '-m', 'aiosmtpd', '-n', '-l',
                             '127.0.0.1:%d' % smtp_port, '-c', 'savemail.Save',
                             os.path.join(D, 'mail')], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    PROCS.append(smtp)

    # the Alertmanager, routing on to this receiver
    amp = free_port()
    am_yml = os.path.join(D, 'am.yml')
    with open(am_yml, 'w') as f:
        f.write('''route: {receiver: hook, group_by: ['alertname'], group_wait: 0s, group_interval: 1s, repeat_interval: 1h}
receivers:
  - name: hook
    webhook_configs: [{url: 'http://127.0.0.1:%d/am-hook', send_resolved: true}]
''' % rport)
    amgr = subprocess.Popen(['prometheus-alertmanager', '--config.file=' + am_yml,
                             '--storage.path=' + os.path.join(D, 'amdata'),
                             '--web.listen-address=127.0.0.1:%d' % amp, '--cluster.listen-address='],
                            stdout=subprocess.DEVNULL, stderr=open(os.path.join(D, 'am.log'), 'w'))
    PROCS.append(amgr)

    def ready(port, path):
        try:
            urllib.request.urlopen('http://127.0.0.1:%d%s' % (port, path), timeout=1)
            return True
        except Exception:
            return False
    wait_until('Alertmanager', lambda: ready(amp, '/-/ready'))

    def smtp_up():
        try:
            socket.create_connection(('127.0.0.1', smtp_port), timeout=1).close()
            return True
        except OSError:
            return False
    wait_until('the SMTP server', smtp_up)

    # agentmon's rules and configuration
    rules = os.path.join(D, 'rules.yml')
    with open(rules, 'w') as f:
        f.write('''groups:
  - name: notify
    interval: 1s
    rules:
      - alert: RuleFires
        expr: vector(3) > 1
        labels: {severity: page, team: slack}
        annotations: {summary: 'it is {{ $value }}'}
      - alert: SlowFor
        expr: vector(1)
        for: 20s
        labels: {team: slow}
''')
    with open(os.path.join(D, 'slack_url'), 'w') as f:
        f.write('http://127.0.0.1:%d/slack/%s\n' % (rport, SLACK_SECRET))
    os.environ['AM_TEST_ROUTING_KEY'] = ROUTING_KEY
    port = free_port()
    cfg = os.path.join(D, 'agentmon.yml')
    with open(cfg, 'w') as f:
        f.write('''listen: 127.0.0.1:%(port)d
statsd: "off"
store: sqlite:%(d)s/db/agentmon.db
system-interval: "0"
rules: [%(rules)s]
evaluation-interval: 1s
resend-delay: 1s
for-grace-period: 1s
external-url: http://127.0.0.1:%(port)d
alerting:
  alertmanagers:
    - static_configs: [{targets: ['127.0.0.1:%(amp)d']}]
route:
  receiver: hook
  group_by: ['alertname']
  group_wait: 0s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - matchers: ['team="slack"']
      receiver: slack
      continue: true
    - matchers: ['team="slack"']
      receiver: hook
    - matchers: ['team="pd"']
      receiver: pagerduty
    - matchers: ['team="mail"']
      receiver: mail
    - matchers: ['team="flaky"']
      receiver: flaky
    - matchers: ['team="slow"']
      receiver: slow
inhibit_rules:
  - source_matchers: [severity="critical"]
    target_matchers: [severity="warning"]
    equal: [alertname]
receivers:
  - name: hook
    webhook_configs: [{url: 'http://127.0.0.1:%(rport)d/hook', send_resolved: true}]
  - name: slack
    slack_configs:
      - api_url_file: %(d)s/slack_url
        channel: '#alerts'
        send_resolved: true
  - name: pagerduty
    pagerduty_configs:
      - routing_key: ${AM_TEST_ROUTING_KEY}
        url: http://127.0.0.1:%(rport)d/pagerduty
        severity: critical
  - name: mail
    email_configs:
      - to: 'On Call <oncall@example.test>, second@example.test'
        from: agentmon@example.test
        smarthost: 127.0.0.1:%(smtp)d
        require_tls: false
        send_resolved: true
  - name: flaky
    webhook_configs: [{url: 'http://127.0.0.1:%(rport)d/flaky'}]
  - name: slow
    webhook_configs: [{url: 'http://127.0.0.1:%(rport)d/slow'}]
''' % {'port': port, 'd': D, 'rules': rules, 'amp': amp, 'rport': rport, 'smtp': smtp_port})
    log = os.path.join(D, 'agentmon.log')
    am = start_agentmon(cfg, log)
    wait_until('agentmon', lambda: ready(port, '/-/ready'))

    # -- a rule's alert to Slack and the webhook, and via Alertmanager
    sl = wait_until('the Slack message', lambda: reqs('/slack/' + SLACK_SECRET))
    if sl:
        check_slack(sl[0][1], 'slack')
        if 'RuleFires' not in sl[0][1]['attachments'][0]['title']:
            fail('slack: title %r' % sl[0][1]['attachments'][0]['title'])
    hk = wait_until('the webhook', lambda: [p for h, p in reqs('/hook')
                                           if p['commonLabels'].get('alertname') == 'RuleFires'])
    amh = wait_until('Alertmanager\'s webhook', lambda: [
        p for h, p in reqs('/am-hook') if p['commonLabels'].get('alertname') == 'RuleFires'])
    if hk and amh:
        ours, theirs = hk[0], amh[0]
        check_webhook(ours, 'webhook')
        check_webhook(theirs, 'alertmanager webhook')
        if set(ours) != set(theirs):
            fail('webhook keys %s, Alertmanager\'s %s' % (sorted(ours), sorted(theirs)))
        if set(ours['alerts'][0]) != set(theirs['alerts'][0]):
            fail('alert keys differ from Alertmanager\'s')
        for k in ('fingerprint', 'labels', 'annotations', 'startsAt', 'generatorURL', 'status'):
            if ours['alerts'][0][k] != theirs['alerts'][0][k]:
                fail('alerts[0].%s: ours %r, Alertmanager\'s %r' % (
                    k, ours['alerts'][0][k], theirs['alerts'][0][k]))
        # the same group labels; the route part is each one's own tree's
        if (ours['groupKey'] != '{}/{team="slack"}:{alertname="RuleFires"}' or
                theirs['groupKey'] != '{}:{alertname="RuleFires"}'):
            fail('groupKey: ours %r, Alertmanager\'s %r' % (ours['groupKey'], theirs['groupKey']))
        for k in ('groupLabels', 'commonLabels', 'commonAnnotations', 'status'):
            if ours[k] != theirs[k]:
                fail('%s: ours %r, Alertmanager\'s %r' % (k, ours[k], theirs[k]))

    # -- PagerDuty: trigger, then resolve with the same dedup_key
    now = time.time()
    alert = {'labels': {'alertname': 'PdAlert', 'team': 'pd', 'instance': 'i1'},
             'annotations': {'summary': 'pd'}, 'startsAt': rfc3339(now)}
    st, _ = http_json(port, '/api/v1/alerts', [alert])
    if st != 200:
        fail('POST /api/v1/alerts: %s' % st)
    pd = wait_until('PagerDuty trigger', lambda: reqs('/pagerduty'))
    gk = '{}/{team="pd"}:{alertname="PdAlert"}'
    if pd:
        check_pagerduty(pd[0][1], 'pagerduty trigger', gk)
    alert['endsAt'] = rfc3339(time.time())
    http_json(port, '/api/v1/alerts', [alert])
    pr = wait_until('PagerDuty resolve', lambda: [
        p for h, p in reqs('/pagerduty') if p.get('event_action') == 'resolve'])
    if pr:
        check_pagerduty(pr[0], 'pagerduty resolve', gk)
        if pd and pr[0]['dedup_key'] != pd[0][1]['dedup_key']:
            fail('pagerduty: resolve and trigger dedup_keys differ')

    # -- email, parsed back
    http_json(port, '/api/v1/alerts', [{'labels': {'alertname': 'MailAlert', 'team': 'mail'},
                                        'annotations': {'summary': 'über alles'}}])
    files = wait_until('the email', lambda: glob.glob(os.path.join(D, 'mail', '*.eml')))
    if files:
        with open(files[0], 'rb') as f:
            msg = email.message_from_binary_file(f, policy=email.policy.default)
        if msg['Subject'] != '[FIRING:1] MailAlert (mail)':
            fail('email: Subject %r' % msg['Subject'])
        if msg['X-Rcpt-To'] != 'oncall@example.test,second@example.test':
            fail('email: envelope recipients %r' % msg['X-Rcpt-To'])
        if msg['X-Mail-From'] != 'agentmon@example.test':
            fail('email: envelope sender %r' % msg['X-Mail-From'])
        body = msg.get_body(('plain',))
        text = body.get_content() if body else ''
        if 'alertname = MailAlert' not in text or 'summary = über alles' not in text:
            fail('email: the text part lacks the alert: %r' % text[:300])
        html = msg.get_body(('html',))
        if not html or 'MailAlert' not in html.get_content():
            fail('email: no HTML part with the alert')

    # -- a receiver that answers 500 and then 200 gets it exactly once more
    http_json(port, '/api/v1/alerts', [{'labels': {'alertname': 'FlakyAlert', 'team': 'flaky'}}])
    wait_until('the retry', lambda: len(reqs('/flaky')) >= 2)
    time.sleep(4)  # group_interval 1 s: four more flushes, none may resend
    n = len(reqs('/flaky'))
    if n != 2:
        fail('flaky receiver: %d requests, expected 2 (500, then 200)' % n)

    # -- silences: a silenced alert is not sent; expired, it is
    st, sj = http_json(port, '/api/v1/silences', {
        'matchers': [{'name': 'alertname', 'value': 'Silenced', 'isRegex': False, 'isEqual': True}],
        'startsAt': rfc3339(time.time()), 'endsAt': rfc3339(time.time() + 3600),
        'createdBy': 'test', 'comment': 'quiet'})
    if st != 200 or 'silenceID' not in (sj or {}):
        fail('POST /api/v1/silences: %s %s' % (st, sj))
        sid = ''
    else:
        sid = sj['silenceID']
    st, lst = http_json(port, '/api/v2/silences')
    if st != 200 or not any(s['id'] == sid and s['status']['state'] == 'active' for s in lst):
        fail('GET /api/v2/silences: %s %s' % (st, lst))
    http_json(port, '/api/v1/alerts', [{'labels': {'alertname': 'Silenced', 'team': 'x'}}])
    time.sleep(3)
    if any(p['commonLabels'].get('alertname') == 'Silenced' for h, p in reqs('/hook')):
        fail('a silenced alert was sent')
    st, _ = http_json(port, '/api/v1/silences/' + sid, method='DELETE')
    if st != 200:
        fail('DELETE /api/v1/silences/{id}: %s' % st)
    wait_until('the alert once its silence expired', lambda: [
        p for h, p in reqs('/hook') if p['commonLabels'].get('alertname') == 'Silenced'])
    st, bad = http_json(port, '/api/v1/silences', {'matchers': [], 'endsAt': rfc3339(time.time())})
    if st != 400:
        fail('a silence without matchers: %s' % st)

    # -- inhibition: the warning is dropped while the critical fires
    http_json(port, '/api/v1/alerts', [
        {'labels': {'alertname': 'Inhibit', 'severity': 'critical', 'team': 'x'}},
        {'labels': {'alertname': 'Inhibit', 'severity': 'warning', 'team': 'x'}}])
    got = wait_until('the inhibited group', lambda: [
        p for h, p in reqs('/hook') if p['commonLabels'].get('alertname') == 'Inhibit'])
    time.sleep(2)
    sev = set()
    for h, p in reqs('/hook'):
        if p['commonLabels'].get('alertname') == 'Inhibit':
            sev |= {a['labels']['severity'] for a in p['alerts']}
    if got and sev != {'critical'}:
        fail('inhibition: sent %s, expected only critical' % sorted(sev))

    # -- the counters, before a restart starts them again
    with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % port) as r:
        metrics = r.read().decode()
    if 'agentmon_notifications_total{receiver="flaky",result="failure"} 1' not in metrics:
        fail('/metrics lacks the flaky receiver\'s failure')
    if 'agentmon_notifications_total{receiver="flaky",result="success"} 1' not in metrics:
        fail('/metrics lacks the flaky receiver\'s success')
    if 'agentmon_notification_latency_seconds_count{receiver="slack"}' not in metrics:
        fail('/metrics lacks the latency histogram')

    # -- restart during a pending `for`: still pending, same activeAt
    def slow_alert():
        st, j = http_json(port, '/api/v1/alerts')
        for a in (j or {}).get('data', {}).get('alerts', []):
            if a['labels']['alertname'] == 'SlowFor':
                return a
        return None
    a1 = wait_until('SlowFor pending', lambda: (lambda a: a if a and a['state'] == 'pending'
                                                 else None)(slow_alert()))
    time.sleep(3)  # a few seconds of its `for` pass
    down_at = time.time()
    stop(am)
    time.sleep(1)
    am = start_agentmon(cfg, log)
    wait_until('agentmon again', lambda: ready(port, '/-/ready'))
    restarted = time.time()
    time.sleep(3)  # the restore comes at the group's second evaluation
    a2 = slow_alert()
    if a1 and a2:
        def t(s):
            return datetime.datetime.fromisoformat(s.replace('Z', '+00:00')).timestamp()
        if a2['state'] != 'pending':
            fail('after the restart SlowFor is %s, not pending' % a2['state'])
        shift = t(a2['activeAt']) - t(a1['activeAt'])
        # restored as Prometheus restores it: shifted by the time it was down
        if not (0 < shift < restarted - down_at + 3) or t(a2['activeAt']) > restarted - 2:
            fail('SlowFor was not restored: activeAt %s before, %s after' % (
                a1['activeAt'], a2['activeAt']))
    elif not a2:
        fail('SlowFor is gone after the restart')
    fired = wait_until('SlowFor firing', lambda: reqs('/slow'), timeout=40)
    # -- a restart while firing does not page again
    n_slow = len(reqs('/slow'))
    n_slack = len(reqs('/slack/' + SLACK_SECRET))
    stop(am)
    am = start_agentmon(cfg, log)
    wait_until('agentmon a third time', lambda: ready(port, '/-/ready'))
    time.sleep(6)  # several evaluations and resends of the rules' alerts
    if fired and len(reqs('/slow')) != n_slow:
        fail('SlowFor paged again after a restart: %d -> %d' % (n_slow, len(reqs('/slow'))))
    if len(reqs('/slack/' + SLACK_SECRET)) != n_slack:
        fail('RuleFires paged Slack again after a restart')

    # -- history answers what fired when
    st, hist = http_json(port, '/api/v1/alerts/history?alert_name=SlowFor')
    states = [r['state'] for r in (hist or {}).get('data', [])]
    if st != 200 or 'pending' not in states or 'firing' not in states:
        fail('history of SlowFor: %s %s' % (st, states))

    # -- secrets in no log line and not on /metrics
    with urllib.request.urlopen('http://127.0.0.1:%d/metrics' % port) as r:
        metrics += r.read().decode()
    stop(am)
    with open(log, errors='replace') as f:
        logtext = f.read()
    for secret in (SLACK_SECRET, 'slackpathsecret', ROUTING_KEY):
        if secret in logtext or secret in metrics:
            fail('a secret (%s...) shows in the log or on /metrics' % secret[:6])
    if 'flaky' not in logtext or 'HTTP 500' not in logtext:
        fail('the failing receiver was not logged')

    # -- bad configurations are refused, naming file and line
    bad = [('route:\n  receiver: nobody\nreceivers:\n  - name: hook\n', 'bad.yml:2: undefined receiver'),
           ('route: {receiver: r}\nreceivers:\n  - name: r\n    webhook_configs:\n      - send_resolved: true\n',
            'bad.yml:5: one of url or url_file must be configured'),
           ('route: {receiver: r}\nreceivers:\n  - name: r\n    slack_configs:\n      - api_url: http://x\n'
            '        title: \'{{ .Oops \'\n', 'bad.yml:6: title: custom notification templates'),
           ('route: {receiver: r, group_wait: soon}\nreceivers:\n  - name: r\n', 'bad.yml:1: group_wait'),
           ('route: {receiver: r, frobnicate: 1}\nreceivers:\n  - name: r\n',
            'bad.yml:1: field frobnicate not found in route'),
           ('route:\n  receiver: r\n  routes:\n    - matchers: [\'a=~"(("\']\nreceivers:\n  - name: r\n',
            'bad.yml:4: matchers'),
           ('route: {receiver: r}\nreceivers:\n  - name: r\n    opsgenie_configs: [{api_key: k}]\n',
            'bad.yml:4: receiver: opsgenie_configs is not supported')]
    for text, want in bad:
        path = os.path.join(D, 'bad.yml')
        with open(path, 'w') as f:
            f.write('statsd: "off"\nstore: sqlite:%s/bad/db\n' % D + text)
        try:
            p = subprocess.run([AGENTMON, 'serve', '--config', path, '--listen', '127.0.0.1:0'],
                               capture_output=True, text=True, timeout=20)
        except subprocess.TimeoutExpired:
            fail('bad config %r was not refused' % text[:60])
            continue
        # the two collector lines shift the notifier's lines by 2
        line = int(want.split(':')[1]) + 2
        want2 = 'bad.yml:%d:%s' % (line, want.split(':', 2)[2])
        if p.returncode == 0 or want2 not in p.stderr:
            fail('bad config %r: exit %d, stderr %r (wanted %r)' % (text[:40], p.returncode,
                                                                   p.stderr[-300:], want2))


started = time.time()
try:
    main()
finally:
    for p in PROCS:
        if p.poll() is None:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
    if FAILS and os.environ.get('AM_KEEP'):
        print('kept', D)
    else:
        shutil.rmtree(D, ignore_errors=True)
if FAILS:
    print('notify: %d failures' % len(FAILS))
    sys.exit(1)
print('notify: ok (Slack, PagerDuty, webhook, email, Alertmanager, retries, silences, '
      'inhibition, restarts, secrets, bad configs)')
