/**
 * The simulator's words (sim/sim-words.ts): trace lines, pairing failures and silent
 * cases said in words; nothing raw on the page's log.
 */
import test from 'ava';
import { PairingError } from '../src/pairing-protocol.js';
import { parseSetupCode } from '../src/setup-code.js';
import { COUNTER_NOTICES, pairingErrorInWords, parseTraceLine, toyLogInWords } from '../sim/sim-words.js';

test('trace lines become sentences; noise stays in the technical log', (t) => {
  t.deepEqual(parseTraceLine('info app.started family=1 waiting=2 outbox=0'), { level: 'info', event: 'app.started', fields: { family: '1', waiting: '2', outbox: '0' } });
  t.is(parseTraceLine('not a log line'), undefined);
  t.is(toyLogInWords('info app.started family=1 waiting=2 outbox=0'), 'toy: started (1 phone in the family, 2 messages waiting)');
  t.is(toyLogInWords('info mqtt.state state=online'), 'toy: connected to the relay');
  t.is(toyLogInWords('info mqtt.state state=connecting'), undefined);
  t.is(toyLogInWords('info pair.ended result=paired'), 'toy: pairing finished: the phone is in the family');
  t.is(toyLogInWords('warn pair.attempt_failed reason=AUTH counted=true'), 'toy: a phone gave a wrong code (counts toward the lock)');
  t.is(toyLogInWords('info net.retry inMs=1000'), undefined);
  // an unknown warning is still shown, without dots and underscores
  t.is(toyLogInWords('warn storage.oops_happened'), 'toy: storage oops happened (warn)');
  t.is(toyLogInWords('info something.new'), undefined);
});

test('pairing failures in words', (t) => {
  t.regex(pairingErrorInWords(new PairingError('TOY_AUTH', 'x')), /^wrong code/);
  t.regex(pairingErrorInWords(Object.assign(new PairingError('LOCKED', 'x'), { lockedMinutes: 7 })), /^locked for 7 minute\(s\): .*Hold its paw 3 s .* to clear the lock/);
  t.regex(pairingErrorInWords(new PairingError('TOY_KEY', 'this setup code has no toy key check (an old PP1 label): the toy cannot be authenticated')), /^old label: /);
  t.regex(pairingErrorInWords(new PairingError('NOT_PAIRING', 'x')), /not in pairing mode: .*hold the paw 3 s/);
  t.regex(pairingErrorInWords(new PairingError('TOY_KEY', 'x')), /key does not match its label/);
  t.regex(pairingErrorInWords(new PairingError('REFUSED', 'toy answered DUPLICATE to register')), /already in the toy's family/);
  t.regex(pairingErrorInWords(new PairingError('REFUSED', 'toy answered FULL to register')), /family is full/);
  let codeError: unknown;
  try {
    parseSetupCode('PP2:nonsense');
  } catch (e) {
    codeError = e;
  }
  t.regex(pairingErrorInWords(codeError), /^that is not a PawPost code/);
});

test('the silent cases have a notice', (t) => {
  for (const k of ['toy.recording_too_short', 'toy.recording_max_length', 'toy.pairing_refused_locked']) t.truthy(COUNTER_NOTICES[k], k);
  t.regex(COUNTER_NOTICES['toy.recording_max_length']!, /60 s limit/);
});
