/**
 * Device information from configuration (src/pairing-device-info.ts), shared by
 * tests/pairing-device-info.test.ts and tests/pairing.xs.ts. Portable.
 */
import { deviceInfoFrom, isReservedContact } from '../src/pairing-device-info.js';
import { PairingError } from '../src/pairing-protocol.js';
import type { CaseAssert } from './xs/harness.js';

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (e) {
    return e instanceof PairingError ? e.code : `untyped:${String(e)}`;
  }
  return 'none';
};

export const deviceInfoCases: [string, (t: CaseAssert) => void][] = [
  [
    '6. device information comes from configuration, bounded; reserved contacts are recognised',
    (t) => {
      const cfg = { model: 'PawPost PP-1', securityContact: 'mailto:security@pawpost.co.uk', securityUpdatesUntil: '2031-12-31' };
      t.deepEqual(deviceInfoFrom(cfg, '1.2.3'), { model: 'PawPost PP-1', firmware: '1.2.3', securityContact: 'mailto:security@pawpost.co.uk', securityUpdatesUntil: '2031-12-31' });
      t.is(codeOf(() => deviceInfoFrom(undefined, '1')), 'MALFORMED');
      t.is(codeOf(() => deviceInfoFrom({ ...cfg, securityUpdatesUntil: '31/12/2031' }, '1')), 'MALFORMED');
      t.is(codeOf(() => deviceInfoFrom({ ...cfg, securityContact: 'x'.repeat(65) }, '1')), 'MALFORMED');
      t.is(codeOf(() => deviceInfoFrom({ ...cfg, model: 42 }, '1')), 'MALFORMED');
      for (const c of ['https://pawpost.example/security', 'security@pawpost.example', 'https://example.com/sec', 'mailto:a@example.org', 'https://toy.test/', 'https://a.invalid', 'not a contact', 'https://localhost/x', ''])
        t.true(isReservedContact(c), c);
      for (const c of ['https://pawpost.co.uk/security', 'security@pawpost.co.uk', 'mailto:psirt@toys.example-maker.com', 'https://examples.org/'])
        t.false(isReservedContact(c), c);
    },
  ],
];
