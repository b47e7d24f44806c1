import crypto from 'node:crypto';
import { AppError } from '../errors';

/**
 * Who may change what. Rooms and users are changed with the admin token (when ADMIN_TOKEN is set);
 * a booking is cancelled with the admin token or its own cancel token: an HMAC of the booking id
 * under a secret kept in the database, so every host issues and accepts the same tokens and
 * nothing is stored per booking. Comparisons run in constant time.
 */
const CANCEL_TOKEN_BYTES = 16;

const digest = (value: string): Buffer => crypto.createHash('sha256').update(value).digest();

export class Access {
  private readonly adminDigest: Buffer | undefined;

  constructor(adminToken: string, private readonly cancelSecret: Buffer) {
    this.adminDigest = adminToken === '' ? undefined : digest(adminToken);
  }

  get adminRequired(): boolean {
    return this.adminDigest !== undefined;
  }

  /** Comparing digests keeps the comparison constant-time whatever the lengths. */
  isAdmin(authorization: string): boolean {
    if (this.adminDigest === undefined) return false;
    const match = /^Bearer +(.+)$/i.exec(authorization);
    return match !== null && crypto.timingSafeEqual(digest(match[1].trim()), this.adminDigest);
  }

  requireAdmin(authorization: string): void {
    if (this.adminDigest !== undefined && !this.isAdmin(authorization)) {
      throw new AppError('unauthorized', authorization === '' ? 'This call needs Authorization: Bearer <admin token>.' : 'The admin token is not valid.');
    }
  }

  cancelTokenFor(bookingId: number): string {
    return crypto.createHmac('sha256', this.cancelSecret).update(String(bookingId)).digest()
      .subarray(0, CANCEL_TOKEN_BYTES).toString('base64url');
  }

  requireCancelRight(bookingId: number, authorization: string, cancelToken: string): void {
    if (this.isAdmin(authorization)) return;
    if (cancelToken === '') throw new AppError('forbidden', 'Cancelling needs the booking\'s X-Cancel-Token (or the admin token).');
    const expected = Buffer.from(this.cancelTokenFor(bookingId));
    const given = Buffer.from(cancelToken);
    if (given.length !== expected.length || !crypto.timingSafeEqual(given, expected)) {
      throw new AppError('forbidden', 'The cancel token does not match this booking.');
    }
  }
}
