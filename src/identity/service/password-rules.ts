// Keystone's opt-in [security_compliance] rules for local passwords: lockout after failed sign-ins,
// strength by regular expression, expiry, change on first use, history, minimum age, and users
// disabled after too long without a sign-in. Every rule is off by default, as in Keystone.
import type { DbHandle } from '../../platform/db/database.ts';
import * as users from '../store/users.ts';
import type { SignInState, User, UserOptions } from '../model.ts';
import { burnVerify, verifyPassword, type Argon2Params } from '../../platform/auth/password.ts';
import { BadRequest, Unauthorized } from '../../platform/errors.ts';

export interface PasswordRulesConfig {
  /** Failed sign-ins in a row that lock the account (lockout_failure_attempts); null: never. */
  readonly lockoutFailureAttempts: number | null;
  /** How long a lock lasts (lockout_duration), counted from the last failure. */
  readonly lockoutDurationSeconds: number;
  /** What every new password must match from its start (password_regex); null: anything. */
  readonly passwordRegex: string | null;
  /** The rule in words, told to whoever picks a password that does not match. */
  readonly passwordRegexDescription: string | null;
  /** Days a new password works before it must be changed (password_expires_days); null: forever. */
  readonly passwordExpiresDays: number | null;
  /** A user's own new password must differ from this many latest ones, the current included
   * (unique_last_password_count); 0: no history is kept. */
  readonly uniqueLastPasswordCount: number;
  /** Days before a user may change again a password they set themselves (minimum_password_age). */
  readonly minimumPasswordAgeDays: number;
  /** A password an administrator sets (create or reset) must be changed by its user before use. */
  readonly changePasswordUponFirstUse: boolean;
  /** Users without a sign-in for this many days count as disabled; null: never. */
  readonly disableUserAccountDaysInactive: number | null;
}

export const PASSWORD_RULES_OFF: PasswordRulesConfig = {
  lockoutFailureAttempts: null,
  lockoutDurationSeconds: 1800,
  passwordRegex: null,
  passwordRegexDescription: null,
  passwordExpiresDays: null,
  uniqueLastPasswordCount: 0,
  minimumPasswordAgeDays: 0,
  changePasswordUponFirstUse: false,
  disableUserAccountDaysInactive: null,
};

/** The password_regex as it is applied: anchored at the password's start (Keystone's re.match), not
 * at its end. Throws SyntaxError for a pattern that does not compile. */
export function compilePasswordRegex(pattern: string): RegExp {
  return new RegExp(pattern, 'y');
}

const DAY_MS = 86_400_000;
const AUTH_FAILED = 'The request you have made requires authentication.';

/** Thrown for a sign-in the rules refuse; `auditReason` goes to the authenticate notification only. */
function refused(message: string, code: string, auditReason?: string): Unauthorized {
  return new Unauthorized(message, code, auditReason === undefined ? {} : { auditReason });
}

export function createPasswordRules(deps: {
  db: DbHandle;
  argon2: Argon2Params;
  rules: PasswordRulesConfig;
}) {
  const { db, argon2, rules } = deps;
  const regex = rules.passwordRegex === null ? null : compilePasswordRegex(rules.passwordRegex);
  const opt = (u: { options: UserOptions }, name: keyof UserOptions) => u.options[name] === true;

  /** Locked now? A lock that has run its time is cleared, as Keystone does. */
  async function isLocked(user: User, state: SignInState, now: number): Promise<boolean> {
    const max = rules.lockoutFailureAttempts;
    if (max === null || opt(user, 'ignore_lockout_failure_attempts')) return false;
    if (state.failedAuthCount < max) return false;
    if ((state.failedAuthAt ?? 0) + rules.lockoutDurationSeconds * 1000 > now) return true;
    await users.resetFailedAuth(db, user.id);
    return false;
  }

  /** Too long without a sign-in (counted in whole days, from the creation when never signed in). */
  function isInactive(user: User, state: SignInState, now: number): boolean {
    const days = rules.disableUserAccountDaysInactive;
    if (days === null || opt(user, 'ignore_user_inactivity')) return false;
    const last = state.lastActiveAt ?? state.createdAt;
    return Math.floor(now / DAY_MS) - Math.floor(last / DAY_MS) >= days;
  }

  function isExpired(user: User, now: number): boolean {
    return (
      user.passwordExpiresAt !== null &&
      user.passwordExpiresAt <= now &&
      !opt(user, 'ignore_password_expiry')
    );
  }

  /** A new password, whoever sets it, must match password_regex: a 400 with its description. */
  function checkStrength(password: string): void {
    if (regex === null) return;
    regex.lastIndex = 0;
    if (regex.test(password)) return;
    const rule =
      rules.passwordRegexDescription ??
      `it must match the regular expression ${rules.passwordRegex}`;
    throw new BadRequest(
      `The password does not match the requirements: ${rule}. Choose another password.`,
      'password_invalid',
    );
  }

  return {
    /** Checks `password` for `user` as a sign-in: lock, password (a wrong one counts toward the
     * lock), enabled and active, expiry (unless `allowExpired`, for a change of the expired password).
     * Throws a 401; a lock answers as any failure does, so it tells a guesser nothing. */
    async signIn(user: User, password: string, o: { allowExpired: boolean }): Promise<void> {
      const now = Date.now();
      const state = await users.getSignInState(db, user.id);
      if (!state) {
        await burnVerify(password, argon2);
        throw refused(AUTH_FAILED, 'authentication_failed');
      }
      if (await isLocked(user, state, now)) {
        await burnVerify(password, argon2);
        throw refused(AUTH_FAILED, 'account_locked', `The account is locked for user: ${user.id}.`);
      }
      if (!user.passwordHash) {
        await burnVerify(password, argon2);
        throw refused(AUTH_FAILED, 'authentication_failed');
      }
      if (!(await verifyPassword(password, user.passwordHash))) {
        if (rules.lockoutFailureAttempts !== null) await users.recordFailedAuth(db, user.id, now);
        throw refused(AUTH_FAILED, 'authentication_failed');
      }
      if (!user.enabled || isInactive(user, state, now))
        throw refused(AUTH_FAILED, 'authentication_failed');
      if (!o.allowExpired && isExpired(user, now)) {
        const why = `The password is expired and needs to be changed for user: ${user.id}.`;
        throw refused(
          `${why} Change it with POST /v3/users/${user.id}/password, which takes the original password and needs no token.`,
          'password_expired',
          why,
        );
      }
      if (state.failedAuthCount > 0) await users.resetFailedAuth(db, user.id);
      // Kept whether or not the inactivity rule is on (at most one write a day per user), so that
      // turning it on later counts from real sign-ins, not from when each user was created.
      if (Math.floor((state.lastActiveAt ?? 0) / DAY_MS) !== Math.floor(now / DAY_MS))
        await users.setLastActive(db, user.id, now);
    },

    checkStrength,

    /** What a user changing their own password must also pass: lock_password, the minimum age of
     * a password they set themselves, and the history (the current password included). */
    async checkOwnChange(user: User, password: string): Promise<void> {
      if (opt(user, 'lock_password'))
        throw new BadRequest(
          'You cannot change your password: the policy of this account forbids it. Ask an administrator to reset it (openstack user set --password).',
          'password_change_locked',
        );
      const state = await users.getSignInState(db, user.id);
      const minDays = rules.minimumPasswordAgeDays;
      if (minDays > 0 && state?.passwordSelfService && state.passwordCreatedAt !== null) {
        const until = state.passwordCreatedAt + minDays * DAY_MS;
        const now = Date.now();
        if (now < until)
          throw new BadRequest(
            `You cannot change your password yet: a password you set must be kept ${minDays} day(s); try again in ${Math.floor((until - now) / DAY_MS)} day(s), or ask an administrator to reset it.`,
            'password_too_young',
          );
      }
      checkStrength(password);
      const n = rules.uniqueLastPasswordCount;
      if (n === 0) return;
      const recent = [
        ...(user.passwordHash ? [user.passwordHash] : []),
        ...(await users.passwordHistory(db, user.id, n - 1)),
      ].slice(0, n);
      for (const hash of recent)
        if (await verifyPassword(password, hash))
          throw new BadRequest(
            `The new password must differ from the last ${n} password(s) of this user, the current one included. Choose another password.`,
            'password_in_history',
          );
    },

    /** When a password set now expires: at once when an administrator set it and users must
     * change such passwords on first use, else after password_expires_days, else never. */
    expiresAt(
      u: { options: UserOptions },
      setBy: 'admin' | 'self',
      now = Date.now(),
    ): number | null {
      if (
        setBy === 'admin' &&
        rules.changePasswordUponFirstUse &&
        !opt(u, 'ignore_change_password_upon_first_use')
      )
        return now;
      if (rules.passwordExpiresDays === null || opt(u, 'ignore_password_expiry')) return null;
      // Whole seconds, as Keystone keeps them.
      return Math.floor((now + rules.passwordExpiresDays * DAY_MS) / 1000) * 1000;
    },

    /** Earlier passwords to keep as hashes: the history check reads the current one from the user. */
    historyToKeep: Math.max(0, rules.uniqueLastPasswordCount - 1),

    /** An administrator enabling a user clears its lock and starts its inactivity count again. */
    async onEnabled(userId: string): Promise<void> {
      await users.resetFailedAuth(db, userId);
      await users.setLastActive(db, userId, Date.now());
    },
  };
}

export type PasswordRules = ReturnType<typeof createPasswordRules>;
