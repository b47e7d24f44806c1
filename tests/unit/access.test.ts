import crypto from 'node:crypto';
import { Access } from '../../src/domain/access';
import { AppError } from '../../src/errors';

const secret = Buffer.from('a cancel-token secret of 32 bytes');
const access = new Access('', secret);

/** The code a refusal carries, or 'allowed'. */
function outcome(bookingId: number, cancelToken: string, authorization = ''): string {
  try {
    access.requireCancelRight(bookingId, authorization, cancelToken);
    return 'allowed';
  } catch (error) {
    return (error as AppError).code;
  }
}

describe('cancel tokens', () => {
  test('22 base64url characters, the same for the same id, different for every id', () => {
    const ids = [1, 2, 3, 255, 256, 2 ** 31, 2 ** 32, 2 ** 32 + 1, 2 ** 53 - 1];
    const tokens = ids.map((id) => access.cancelTokenFor(id));
    for (const token of tokens) expect(token).toMatch(/^[A-Za-z0-9_-]{22}$/);
    expect(new Set(tokens).size).toBe(ids.length);
    expect(ids.map((id) => access.cancelTokenFor(id))).toEqual(tokens); // no state kept between calls
    for (let id = 1; id <= 2000; id++) expect(new Set([access.cancelTokenFor(id), access.cancelTokenFor(id + 1)]).size).toBe(2);
  });

  test('another secret gives other tokens (every host shares the secret, so they agree)', () => {
    const other = new Access('', Buffer.from('another secret, also long enough'));
    const same = new Access('', Buffer.from(secret));
    expect(other.cancelTokenFor(42)).not.toBe(access.cancelTokenFor(42));
    expect(same.cancelTokenFor(42)).toBe(access.cancelTokenFor(42));
  });

  test('a booking\'s own token cancels it; another booking\'s, a changed or a missing one does not', () => {
    const token = access.cancelTokenFor(7);
    expect(outcome(7, token)).toBe('allowed');
    expect(outcome(8, token)).toBe('forbidden');
    expect(outcome(7, access.cancelTokenFor(8))).toBe('forbidden');
    expect(outcome(7, token.slice(0, -1))).toBe('forbidden');
    expect(outcome(7, `${token}A`)).toBe('forbidden');
    expect(outcome(7, `${token[0] === 'A' ? 'B' : 'A'}${token.slice(1)}`)).toBe('forbidden');
    expect(outcome(7, '')).toBe('forbidden');
  });

  test('tokens issued before the AES scheme (HMAC-SHA256 of the id, first 16 bytes) still cancel', () => {
    const legacy = crypto.createHmac('sha256', secret).update('7').digest().subarray(0, 16).toString('base64url');
    expect(access.legacyCancelTokenFor(7)).toBe(legacy);
    expect(legacy).not.toBe(access.cancelTokenFor(7));
    expect(outcome(7, legacy)).toBe('allowed');
    expect(outcome(8, legacy)).toBe('forbidden');
  });

  test('the admin token cancels anything when set; a wrong one is no right', () => {
    const guarded = new Access('admin-secret', secret);
    expect(() => guarded.requireCancelRight(7, 'Bearer admin-secret', '')).not.toThrow();
    expect(() => guarded.requireCancelRight(7, 'Bearer wrong', '')).toThrow(AppError);
    expect(outcome(7, '', 'Bearer admin-secret')).toBe('forbidden'); // no admin token configured
  });

  test('a refusal says which right was missing: no token at all, or an Authorization that is not the admin token', () => {
    const guarded = new Access('admin-secret', secret);
    const message = (authorization: string) => {
      try {
        guarded.requireCancelRight(7, authorization, '');
      } catch (error) {
        return (error as AppError).message;
      }
      return 'allowed';
    };
    expect(message('')).toBe('Cancelling needs the booking\'s X-Cancel-Token (or the admin token).');
    expect(message('Bearer wrong')).toBe('The Authorization given is not the admin token, and no X-Cancel-Token was given: cancelling needs one of them.');
  });
});
