// Public keys as Nova handles them: OpenSSH public keys are parsed (the blob must be well formed
// for its type) and fingerprinted with MD5 over the blob, as `ssh-keygen -l -E md5` shows; x509
// certificates with SHA-1 over the DER. Also makes RSA key pairs for clients that ask the server
// to generate one (microversions before 2.92).
import { createHash, generateKeyPairSync, X509Certificate } from 'node:crypto';
import { BadRequest } from '../../platform/errors.ts';

const SSH_TYPES = new Set([
  'ssh-rsa',
  'ssh-dss',
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'sk-ssh-ed25519@openssh.com',
  'sk-ecdsa-sha2-nistp256@openssh.com',
]);

const colonHex = (buf: Buffer) => [...buf].map((b) => b.toString(16).padStart(2, '0')).join(':');

/** Reads the length-prefixed fields of an SSH wire-format blob; undefined if it is malformed. */
function sshFields(blob: Buffer): Buffer[] | undefined {
  const out: Buffer[] = [];
  let off = 0;
  while (off < blob.length) {
    if (off + 4 > blob.length) return undefined;
    const len = blob.readUInt32BE(off);
    if (off + 4 + len > blob.length) return undefined;
    out.push(blob.subarray(off + 4, off + 4 + len));
    off += 4 + len;
  }
  return out;
}

const invalid = (why: string) =>
  new BadRequest(`Keypair data is invalid: ${why}`, 'keypair_invalid');

/** The MD5 fingerprint of an OpenSSH public key line; throws a 400 naming what is wrong. */
export function sshFingerprint(publicKey: string): string {
  const parts = publicKey.trim().split(/\s+/);
  const [type, b64] = parts;
  if (!type || !b64)
    throw invalid('failed to generate fingerprint: expected "<type> <base64 key> [comment]"');
  if (!SSH_TYPES.has(type))
    throw invalid(`unsupported key type ${JSON.stringify(type.slice(0, 40))}`);
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(b64)) throw invalid('the key is not base64');
  const blob = Buffer.from(b64, 'base64');
  const fields = sshFields(blob);
  const expected =
    type === 'ssh-rsa'
      ? 3
      : type === 'ssh-dss'
        ? 5
        : type === 'ssh-ed25519'
          ? 2
          : type.startsWith('sk-')
            ? undefined
            : 3;
  if (
    !fields ||
    fields[0]?.toString('latin1') !== type ||
    (expected !== undefined && fields.length !== expected)
  ) {
    throw invalid(`the key blob is not a well-formed ${type} key`);
  }
  if (type === 'ssh-ed25519' && fields[1]!.length !== 32)
    throw invalid('an ed25519 key is 32 bytes');
  if (type === 'ssh-rsa' && fields[2]!.length < 128)
    throw invalid('RSA keys shorter than 1024 bits are not accepted');
  return colonHex(createHash('md5').update(blob).digest());
}

/** The SHA-1 fingerprint of a PEM x509 certificate; throws a 400 when it is not one. */
export function x509Fingerprint(pem: string): string {
  try {
    return colonHex(createHash('sha1').update(new X509Certificate(pem).raw).digest());
  } catch {
    throw invalid('the x509 certificate could not be read (expected PEM)');
  }
}

function sshString(b: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(b.length);
  return Buffer.concat([len, b]);
}

/** An SSH mpint from a big-endian unsigned integer: a leading zero when the top bit is set. */
function mpint(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0) i++;
  const v = b.subarray(i);
  return sshString(v[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}

/** A new RSA-2048 key pair: the OpenSSH public key line and the PEM private key. */
export function generateSshKeypair(comment: string): { publicKey: string; privateKey: string } {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicExponent: 65537,
  });
  const jwk = publicKey.export({ format: 'jwk' });
  const blob = Buffer.concat([
    sshString(Buffer.from('ssh-rsa')),
    mpint(Buffer.from(jwk.e!, 'base64url')),
    mpint(Buffer.from(jwk.n!, 'base64url')),
  ]);
  return {
    publicKey: `ssh-rsa ${blob.toString('base64')} ${comment}`,
    privateKey: privateKey.export({ format: 'pem', type: 'pkcs1' }).toString(),
  };
}
