import { afterAll, describe, expect, test } from 'bun:test';
import { createHmac } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { sendWebhook } from '../../src/webhooks/send.ts';
import { eventBody, newWebhookSecret, signatureHeader } from '../../src/webhooks/signing.ts';
import { blockedAddress, createTargetGuard, parseIpv6, parseWebhookUrl, WebhookUrlError } from '../../src/webhooks/target-guard.ts';
import { startReceiver, type Receiver } from './webhooks-receiver.ts';

/**
 * The SSRF guard's address ranges (RFC 6890 special-purpose registries, RFC 4291/4193/6052/3056)
 * and the Standard Webhooks signature, checked against an HMAC computed independently with
 * node:crypto from the formula in SPEC §10.
 */
const receivers: Receiver[] = [];
afterAll(async () => {
  await Promise.all(receivers.map((r) => r.close()));
});

describe('address ranges', () => {
  const refused = [
    '0.0.0.0', '0.1.2.3', '10.0.0.1', '10.255.255.255', '100.64.0.1', '100.127.255.254', '127.0.0.1', '127.255.0.1',
    '169.254.169.254', '172.16.0.1', '172.31.255.255', '192.0.0.8', '192.0.2.1', '192.168.0.1', '198.18.0.1',
    '198.19.255.255', '198.51.100.7', '203.0.113.9', '224.0.0.1', '239.255.255.250', '240.0.0.1', '255.255.255.255',
    '::', '::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:10.0.0.1', '::127.0.0.1', '64:ff9b::10.0.0.1',
    '64:ff9b::7f00:1', '64:ff9b:1::1', '2002:7f00:1::1', '2002:c0a8:101::', 'fc00::1', 'fd12:3456::1', 'fe80::1',
    'fe80::1%eth0', 'febf::1', 'fec0::1', 'ff02::1', 'ff05::1:3', '2001:db8::1', '2001::1', '100::1', '3fff::1', '4000::1',
    'not-an-ip',
  ];
  const allowed = [
    '1.1.1.1', '8.8.8.8', '93.184.216.34', '100.63.255.255', '100.128.0.1', '172.15.255.255', '172.32.0.1',
    '192.167.255.255', '192.169.0.1', '198.17.255.255', '198.20.0.1', '223.255.255.255', '11.0.0.1',
    '2606:4700:4700::1111', '2a00:1450:4001:80b::200e', '::ffff:8.8.8.8', '64:ff9b::8.8.8.8', '2002:808:808::1', '2400:cb00::1',
  ];
  for (const ip of refused) test(`refused: ${ip}`, () => expect(blockedAddress(ip)).not.toBeNull());
  for (const ip of allowed) test(`allowed: ${ip}`, () => expect(blockedAddress(ip)).toBeNull());

  test('IPv6 text forms parse to the same bytes', () => {
    const hex = (s: string) => Buffer.from(parseIpv6(s)!).toString('hex');
    expect(hex('::ffff:1.2.3.4')).toBe('00000000000000000000ffff01020304');
    expect(hex('::ffff:102:304')).toBe(hex('::ffff:1.2.3.4'));
    expect(hex('[2001:DB8::1]')).toBe('20010db8000000000000000000000001');
    expect(hex('1:2:3:4:5:6:7:8')).toBe('00010002000300040005000600070008');
    for (const bad of ['1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', ':::', '1.2.3.4', '::ffff:1.2.3.256', 'g::1']) {
      expect(parseIpv6(bad)).toBeNull();
    }
  });
});

describe('URLs', () => {
  test('normalized forms of a loopback address are recognised after URL parsing', async () => {
    const guard = createTargetGuard({ allowPrivate: false, resolve: async () => ['8.8.8.8'] });
    for (const u of ['http://0x7f.1/', 'http://2130706433/', 'http://0177.0.0.1/', 'http://127.1/', 'http://[0:0:0:0:0:ffff:127.0.0.1]/']) {
      await expect(guard.check(parseWebhookUrl(u))).rejects.toMatchObject({ code: 'webhook_target_private' });
    }
  });

  test('only absolute http(s) URLs without credentials or fragments', () => {
    for (const u of ['ftp://a.example/', 'ws://a.example/', 'data:text/plain,hi', 'a.example/hook', 'http://u@a.example/', 'https://a.example/#x', '']) {
      expect(() => parseWebhookUrl(u)).toThrow(WebhookUrlError);
    }
    expect(parseWebhookUrl('HTTPS://Hooks.Example.COM:8443/a?b=c').href).toBe('https://hooks.example.com:8443/a?b=c');
  });
});

describe('DNS', () => {
  test('every resolved address must be public; lookup failures are refused; allowPrivate skips DNS', async () => {
    const answers: Record<string, string[]> = {
      'public.test': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
      'mixed.test': ['93.184.216.34', '10.0.0.7'],
      'v6local.test': ['fd00::5'],
      'empty.test': [],
    };
    const resolve = async (h: string) => {
      const a = answers[h];
      if (!a) throw Object.assign(new Error('not found'), { code: 'ENOTFOUND' });
      return a;
    };
    const guard = createTargetGuard({ allowPrivate: false, resolve });
    await guard.check(new URL('https://public.test/hook'));
    await expect(guard.check(new URL('https://mixed.test/'))).rejects.toMatchObject({ code: 'webhook_target_private' });
    await expect(guard.check(new URL('https://v6local.test/'))).rejects.toMatchObject({ code: 'webhook_target_private' });
    await expect(guard.check(new URL('https://empty.test/'))).rejects.toMatchObject({ code: 'webhook_target_unresolvable' });
    await expect(guard.check(new URL('https://missing.test/'))).rejects.toMatchObject({ code: 'webhook_target_unresolvable' });
    const open = createTargetGuard({
      allowPrivate: true,
      resolve: async () => {
        throw new Error('must not be called');
      },
    });
    await open.check(new URL('http://127.0.0.1/'));
    await open.check(new URL('https://missing.test/'));
  });

  test('the target is checked again at send time: a name that now resolves to loopback is not contacted', async () => {
    const r = await startReceiver();
    receivers.push(r);
    const secret = newWebhookSecret();
    r.secrets = [secret];
    let answer = ['93.184.216.34'];
    const guard = createTargetGuard({ allowPrivate: false, resolve: async () => answer, cacheMs: 0 });
    const url = `http://localhost:${r.port}/hook`;
    await guard.check(new URL(url)); // what subscription creation saw
    answer = ['127.0.0.1']; // the name was re-pointed (DNS rebinding)
    const body = eventBody('tx.executed', Date.now(), '{"k":1}');
    const o = await sendWebhook({ url, msgId: 'msg_rebind', body, secrets: [secret], timeoutMs: 1000, guard, userAgent: 'test' });
    expect(o).toMatchObject({ ok: false, status: null, aborted: false });
    expect(o.error).toMatch(/^refused: host localhost resolves to 127\.0\.0\.1/);
    expect(r.requests).toBe(0);
  });
});

describe('Standard Webhooks signature', () => {
  test('webhook-signature is v1,base64(HMAC-SHA256(key, id.timestamp.body)) (independent HMAC)', () => {
    const secret = newWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    expect(key.length).toBe(32);
    const at = new Date(1_763_700_000_123);
    const body = eventBody('round.finalized', 1_763_700_000_000, '{"height":1}');
    expect(JSON.parse(body)).toEqual({ type: 'round.finalized', timestamp: '2025-11-21T04:40:00.000Z', data: { height: 1 } });
    const header = signatureHeader([secret], 'msg_abc_1', at, body);
    const mac = createHmac('sha256', key).update(`msg_abc_1.1763700000.${body}`).digest('base64');
    expect(header).toBe(`v1,${mac}`);
  });

  test('during a rotation both secrets sign, and a receiver holding either one verifies', () => {
    const [a, b] = [newWebhookSecret(), newWebhookSecret()];
    const at = new Date();
    const body = eventBody('tx.executed', at.getTime(), '{}');
    const header = signatureHeader([a, b], 'msg_x_2', at, body);
    expect(header.split(' ')).toHaveLength(2);
    const headers = { 'webhook-id': 'msg_x_2', 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': header };
    for (const s of [a, b]) expect(new Webhook(s).verify(body, headers)).toEqual({ type: 'tx.executed', timestamp: at.toISOString(), data: {} });
    expect(() => new Webhook(newWebhookSecret()).verify(body, headers)).toThrow();
    expect(() => new Webhook(a).verify(body.replace('{}', '{"x":1}'), headers)).toThrow();
  });
});
