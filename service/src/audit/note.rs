//! Signed checkpoints: the C2SP `tlog-checkpoint` body inside a C2SP `signed-note`, signed with
//! Ed25519.
//!
//! A checkpoint's body is three lines: the origin (the log's name, also the key's name), the
//! tree size in decimal, and the root hash in standard base64. The note is the body, a blank
//! line, and one line per signature: `— <name> <base64(key id ‖ signature)>`, where the
//! signature is over the body's bytes and the key id is the first four bytes of
//! `SHA-256(name ‖ "\n" ‖ 0x01 ‖ public key)` (0x01 names Ed25519).
//!
//! Keys are written as Go's `golang.org/x/mod/sumdb/note` writes them: the verifier key
//! `<name>+<key id in hex>+<base64(0x01 ‖ public key)>`, printed for auditors to pin; the
//! signing key `PRIVATE+KEY+<name>+<key id>+<base64(0x01 ‖ seed)>`, kept in a file of its own
//! outside the database (mode 0600), which `lianxin keys create` writes and `serve` reads.

use std::fmt;
use std::io::Write;
use std::path::Path;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

use super::merkle::Hash;

const ED25519: u8 = 0x01;
const SIGNATURE_PREFIX: &str = "— ";

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("a key name is non-empty text without spaces or `+`")]
    BadName,
    #[error("this is not a {0} key in the signed-note form")]
    Malformed(&'static str),
    #[error("the key's id does not match its name and key")]
    WrongKeyId,
    #[error("no randomness for a new key")]
    NoRandomness(#[source] getrandom::Error),
    #[error("the key file {path} cannot be used")]
    File {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("the note has no signature lines after a blank line")]
    Unsigned,
    #[error("the note carries no valid signature by {0}")]
    NotSignedBy(String),
    #[error("the checkpoint is malformed: {0}")]
    Malformed(String),
    #[error("the checkpoint is of the log `{found}`, not `{expected}`")]
    OtherLog { expected: String, found: String },
}

fn check_name(name: &str) -> Result<(), KeyError> {
    if name.is_empty() || name.contains(|c: char| c.is_whitespace() || c == '+') {
        return Err(KeyError::BadName);
    }
    Ok(())
}

fn key_id(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let mut digest = Sha256::new();
    digest.update(name.as_bytes());
    digest.update(b"\n");
    digest.update([ED25519]);
    digest.update(public.as_bytes());
    let hash = digest.finalize();
    [hash[0], hash[1], hash[2], hash[3]]
}

/// `<name>+<key id hex>+<base64(0x01 ‖ key)>` parsed into its name, key id and key bytes.
fn parse_key_text<'a>(text: &'a str, what: &'static str) -> Result<(&'a str, [u8; 4], [u8; 32]), KeyError> {
    // The base64 key may itself hold `+`: only the first two separate fields.
    let mut parts = text.trim().splitn(3, '+');
    let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(KeyError::Malformed(what));
    };
    check_name(name)?;
    let id: [u8; 4] = hex::decode(id)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(KeyError::Malformed(what))?;
    let key = STANDARD.decode(key).map_err(|_| KeyError::Malformed(what))?;
    let Some((&ED25519, key)) = key.split_first() else {
        return Err(KeyError::Malformed(what));
    };
    let key: [u8; 32] = key.try_into().map_err(|_| KeyError::Malformed(what))?;
    Ok((name, id, key))
}

/// What a log signs its checkpoints with.
#[derive(Clone)]
pub struct LogSigner {
    name: String,
    key: SigningKey,
}

/// The secret stays out of logs and panics.
impl fmt::Debug for LogSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogSigner")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl LogSigner {
    pub fn generate(name: &str) -> Result<Self, KeyError> {
        check_name(name)?;
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(KeyError::NoRandomness)?;
        Ok(LogSigner {
            name: name.to_owned(),
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// The log's name: every checkpoint's origin line.
    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn verifier(&self) -> LogVerifier {
        LogVerifier {
            name: self.name.clone(),
            key: self.key.verifying_key(),
        }
    }

    /// The signing key in its file form.
    fn to_text(&self) -> String {
        let id = key_id(&self.name, &self.key.verifying_key());
        let mut key = vec![ED25519];
        key.extend_from_slice(self.key.as_bytes());
        format!(
            "PRIVATE+KEY+{}+{}+{}\n",
            self.name,
            hex::encode(id),
            STANDARD.encode(key)
        )
    }

    fn from_text(text: &str) -> Result<Self, KeyError> {
        let rest = text
            .trim()
            .strip_prefix("PRIVATE+KEY+")
            .ok_or(KeyError::Malformed("signing"))?;
        let (name, id, seed) = parse_key_text(rest, "signing")?;
        let key = SigningKey::from_bytes(&seed);
        if key_id(name, &key.verifying_key()) != id {
            return Err(KeyError::WrongKeyId);
        }
        Ok(LogSigner {
            name: name.to_owned(),
            key,
        })
    }

    /// Writes a new key to `path`, readable by its owner alone; never overwrites a file.
    pub fn create_file(name: &str, path: &Path) -> Result<Self, KeyError> {
        let signer = Self::generate(name)?;
        let file_error = |source| KeyError::File {
            path: path.display().to_string(),
            source,
        };
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(path).map_err(file_error)?;
        file.write_all(signer.to_text().as_bytes()).map_err(file_error)?;
        file.sync_all().map_err(file_error)?;
        Ok(signer)
    }

    pub fn load(path: &Path) -> Result<Self, KeyError> {
        let text = std::fs::read_to_string(path).map_err(|source| KeyError::File {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_text(&text)
    }

    /// The signed note of `checkpoint`.
    pub fn sign(&self, checkpoint: &Checkpoint) -> String {
        let body = checkpoint.body();
        let signature = self.key.sign(body.as_bytes());
        let mut signed = key_id(&self.name, &self.key.verifying_key()).to_vec();
        signed.extend_from_slice(&signature.to_bytes());
        format!("{body}\n{SIGNATURE_PREFIX}{} {}\n", self.name, STANDARD.encode(signed))
    }
}

/// What an auditor pins to check a log's checkpoints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogVerifier {
    name: String,
    key: VerifyingKey,
}

impl fmt::Display for LogVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut key = vec![ED25519];
        key.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex::encode(key_id(&self.name, &self.key)),
            STANDARD.encode(key)
        )
    }
}

impl FromStr for LogVerifier {
    type Err = KeyError;

    fn from_str(text: &str) -> Result<Self, KeyError> {
        let (name, id, key) = parse_key_text(text, "verifier")?;
        let key = VerifyingKey::from_bytes(&key).map_err(|_| KeyError::Malformed("verifier"))?;
        if key_id(name, &key) != id {
            return Err(KeyError::WrongKeyId);
        }
        Ok(LogVerifier {
            name: name.to_owned(),
            key,
        })
    }
}

impl LogVerifier {
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The checkpoint a signed note carries, once a signature by this key verifies over it and
    /// its origin is this key's log. Other signatures (a witness's cosignature) are ignored.
    pub fn open(&self, note: &str) -> Result<Checkpoint, NoteError> {
        let (body, signatures) = note.split_once("\n\n").ok_or(NoteError::Unsigned)?;
        let body = format!("{body}\n");
        let id = key_id(&self.name, &self.key);
        let signed = signatures.lines().filter_map(|line| {
            let (name, signature) = line.strip_prefix(SIGNATURE_PREFIX)?.split_once(' ')?;
            let bytes = STANDARD.decode(signature).ok()?;
            (name == self.name && bytes.len() == 68 && bytes[..4] == id)
                .then(|| Signature::from_slice(&bytes[4..]).ok())
                .flatten()
        });
        let mut verified = false;
        for signature in signed {
            verified |= self.key.verify_strict(body.as_bytes(), &signature).is_ok();
        }
        if !verified {
            return Err(NoteError::NotSignedBy(self.name.clone()));
        }
        let checkpoint = Checkpoint::parse(&body)?;
        if checkpoint.origin != self.name {
            return Err(NoteError::OtherLog {
                expected: self.name.clone(),
                found: checkpoint.origin,
            });
        }
        Ok(checkpoint)
    }
}

/// What a checkpoint states: the log, its size and its root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The three lines a signature covers.
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, STANDARD.encode(self.root))
    }

    /// Reads a body; extension lines after the root are allowed and ignored.
    pub fn parse(body: &str) -> Result<Self, NoteError> {
        let malformed = |what: &str| NoteError::Malformed(what.to_owned());
        let mut lines = body.lines();
        let origin = lines
            .next()
            .filter(|line| !line.is_empty())
            .ok_or_else(|| malformed("no origin line"))?;
        let size = lines
            .next()
            .and_then(|line| line.parse::<u64>().ok().filter(|size| size.to_string() == line))
            .ok_or_else(|| malformed("the size line is not a decimal number"))?;
        let root = lines
            .next()
            .and_then(|line| STANDARD.decode(line).ok())
            .and_then(|bytes| <Hash>::try_from(bytes).ok())
            .ok_or_else(|| malformed("the root line is not a base64 SHA-256 hash"))?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signed_checkpoint_opens_with_its_verifier_only() {
        let signer = LogSigner::generate("lianxin.example/log").unwrap();
        let checkpoint = Checkpoint {
            origin: signer.name().to_owned(),
            size: 12,
            root: [7; 32],
        };
        let note = signer.sign(&checkpoint);
        assert!(note.starts_with(
            "lianxin.example/log\n12\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\n— lianxin.example/log "
        ));
        let verifier: LogVerifier = signer.verifier().to_string().parse().unwrap();
        assert_eq!(verifier.open(&note).unwrap(), checkpoint);
        let other = LogSigner::generate("lianxin.example/log").unwrap().verifier();
        assert!(matches!(other.open(&note), Err(NoteError::NotSignedBy(_))));
        let altered = note.replacen("\n12\n", "\n13\n", 1);
        assert!(verifier.open(&altered).is_err());
    }

    #[test]
    fn keys_round_trip_through_their_text() {
        let signer = LogSigner::generate("log").unwrap();
        let again = LogSigner::from_text(&signer.to_text()).unwrap();
        assert_eq!(again.verifier(), signer.verifier());
        assert!(LogSigner::generate("a b").is_err());
        let text = signer.verifier().to_string();
        let tampered = text.replacen("log+", "lug+", 1);
        assert!(matches!(tampered.parse::<LogVerifier>(), Err(KeyError::WrongKeyId)));
    }
}
