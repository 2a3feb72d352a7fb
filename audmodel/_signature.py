"""Signatures of models, in the OpenSSF Model Signing format.

A model is signed over its files: the digest of each file of the model
folder, as the ``model_signing`` package lists them (a manifest), in an
in-toto statement, in a DSSE envelope signed by an elliptic-curve key,
kept as a Sigstore bundle (JSON). ``model_signing verify`` checks a loaded
model folder against it.

A bundle names the key that signed it by a hint: the SHA-256 of the public
key in PEM, which is also the fingerprint this package shows
(:func:`fingerprint`). A key file may hold the key's certificate and its
chain after the key, for organisations with a PKI; the bundle then carries
the certificates, and a trusted root certificate verifies them.

Verifying first checks the envelope with a trusted key, then the files at
hand against the manifest: the first file that differs, is missing or was
not signed is named.

It needs the extra ``sign`` (model-signing, pyopenssl), imported at the
first signature made or checked.

"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import hashlib
import json
import os
import pathlib
import re
import tempfile
from typing import TYPE_CHECKING
from typing import Any

from audmodel import _lazy
from audmodel import errors


if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from model_signing import hashing
    from model_signing import signing
    from model_signing._signing import sign_certificate
    from model_signing._signing import sign_ec_key
    from model_signing._signing import sign_sigstore_pb
else:  # the extra 'sign', imported at the first signature (see audmodel._lazy)
    x509 = _lazy.module("cryptography.x509")
    serialization = _lazy.module("cryptography.hazmat.primitives.serialization")
    ec = _lazy.module("cryptography.hazmat.primitives.asymmetric.ec")
    hashing = _lazy.module("model_signing.hashing")
    signing = _lazy.module("model_signing.signing")
    sign_certificate = _lazy.module("model_signing._signing.sign_certificate")
    sign_ec_key = _lazy.module("model_signing._signing.sign_ec_key")
    sign_sigstore_pb = _lazy.module("model_signing._signing.sign_sigstore_pb")


MISSING_EXTRA = (
    "Signing and verifying models needs the optional extra 'sign' "
    "(model-signing, pyopenssl): pip install 'audmodel[sign]'."
)
CURVES = ("secp256r1", "secp384r1", "secp521r1")
r"""The elliptic curves model-signing signs with (P-256, P-384, P-521)."""
KEY_FILE_LIMIT = 1024 * 1024
r"""Most bytes of a key or certificate file read."""
BUNDLE_LIMIT = 16 * 1024 * 1024
r"""Most bytes of a signature bundle read."""
_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----.*?-----END \1-----", re.DOTALL)


def need_extra() -> None:
    r"""Import the signing stack now.

    Raises:
        audmodel.errors.ExtraMissingError: if the extra ``sign`` is missing

    """
    try:
        _lazy.load(x509, serialization, hashing, signing, sign_ec_key)
    except ImportError as ex:
        raise errors.ExtraMissingError(MISSING_EXTRA) from ex


# --- keys --------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class SigningKey:
    r"""A private key read from its PEM file, with its certificates if any."""

    path: str
    key: bytes  # the PEM block of the private key
    certificates: tuple[bytes, ...]  # PEM blocks: the key's own, then its chain


@dataclasses.dataclass(frozen=True)
class Trusted:
    r"""The public keys (by fingerprint) and root certificates trusted to sign."""

    keys: dict[str, str]  # fingerprint -> PEM file
    roots: tuple[str, ...]  # PEM files of root certificates

    def __bool__(self) -> bool:
        return bool(self.keys or self.roots)

    def may_have_signed(self, bundle: Bundle) -> bool:
        r"""Whether a trusted key, or one a trusted root certifies, may have signed."""
        return bundle.signer in self.keys or bool(self.roots and bundle.certified)


def signing_key(path: str) -> SigningKey:
    r"""The signing key in the PEM file ``path``, checked.

    Raises:
        audmodel.errors.KeyFileError: naming the file, if it is missing,
            unreadable, holds no private key (a public key, say), an
            encrypted one, or a key model signing does not support

    """
    need_extra()
    blocks = _pem_blocks(path, "signing key")
    private = [data for label, data in blocks if label.endswith("PRIVATE KEY")]
    if not private:
        if any(label.endswith("PUBLIC KEY") for label, _ in blocks):
            raise errors.KeyFileError(
                f"The signing key '{path}' is a public key: signing takes the "
                "private key (its public key goes to trusted_keys)."
            )
        raise errors.KeyFileError(f"The signing key '{path}' holds no private key.")
    try:
        key = serialization.load_pem_private_key(private[0], password=None)
    except TypeError:
        raise errors.KeyFileError(
            f"The signing key '{path}' is encrypted: keep it unencrypted where "
            "it is used to sign (readable by its owner alone)."
        ) from None
    except ValueError as ex:
        raise errors.KeyFileError(
            f"The signing key '{path}' cannot be read: {ex}"
        ) from None
    _check_curve(key, path, "signing key")
    certificates = tuple(data for label, data in blocks if label == "CERTIFICATE")
    if certificates:
        _check_certificates(key, certificates, path)
    return SigningKey(path, private[0], certificates)


def _check_certificates(key: Any, certificates: tuple[bytes, ...], path: str) -> None:
    r"""Check that a key's certificate is its own, and comes with its chain."""
    own = _read(x509.load_pem_x509_certificate, certificates[0], path, "signing key")
    if fingerprint(own.public_key()) != fingerprint(key.public_key()):
        raise errors.KeyFileError(
            f"The first certificate in the signing key '{path}' is not the "
            "key's: put the key's own certificate right after the key."
        )
    if len(certificates) < 2:
        raise errors.KeyFileError(
            f"The signing key '{path}' holds the key's certificate but no "
            "chain: add the certificates up to the root after it."
        )


def trusted(paths: list[str]) -> Trusted:
    r"""The trusted keys and root certificates of PEM files, checked.

    Raises:
        audmodel.errors.KeyFileError: naming the file, if it is missing,
            unreadable, a private key, or neither a supported public key
            nor a certificate

    """
    need_extra()
    keys, roots = {}, []
    for path in paths:
        blocks = _pem_blocks(path, "trusted key")
        labels = [label for label, _ in blocks]
        if any(label.endswith("PRIVATE KEY") for label in labels):
            raise errors.KeyFileError(
                f"The trusted key '{path}' is a private key: trust is given "
                "to public keys; keep the private key where models are signed."
            )
        if "CERTIFICATE" in labels:
            roots.append(path)
            continue
        public = [data for label, data in blocks if label == "PUBLIC KEY"]
        if not public:
            raise errors.KeyFileError(
                f"The trusted key '{path}' holds no public key or certificate."
            )
        key = _read(serialization.load_pem_public_key, public[0], path, "trusted key")
        _check_curve(key, path, "trusted key")
        keys[fingerprint(key)] = path
    return Trusted(keys, tuple(roots))


def fingerprint(public_key: Any) -> str:
    r"""The fingerprint of a public key: ``sha256:`` and the SHA-256 of its PEM.

    The same digest names the key in the bundles model-signing writes.

    """
    pem = public_key.public_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PublicFormat.SubjectPublicKeyInfo,
    )
    return f"sha256:{hashlib.sha256(pem).hexdigest()}"


def _pem_blocks(path: str, what: str) -> list[tuple[str, bytes]]:
    r"""The PEM blocks of a key file, with their labels."""
    try:
        with open(os.path.expanduser(path), "rb") as fp:
            data = fp.read(KEY_FILE_LIMIT + 1)
    except FileNotFoundError:
        raise errors.KeyFileError(f"The {what} '{path}' does not exist.") from None
    except OSError as ex:
        raise errors.KeyFileError(
            f"The {what} '{path}' cannot be read: {ex.strerror}."
        ) from None
    blocks = [(m.group(1).decode(), m.group(0)) for m in _PEM.finditer(data)]
    if len(data) > KEY_FILE_LIMIT or not blocks:
        raise errors.KeyFileError(f"The {what} '{path}' is not a PEM file.")
    return blocks


def _read(load: Any, block: bytes, path: str, what: str) -> Any:
    r"""A key or certificate loaded from its PEM block of a key file."""
    try:
        return load(block)
    except ValueError as ex:
        raise errors.KeyFileError(f"The {what} '{path}' cannot be read: {ex}") from None


def _check_curve(key: Any, path: str, what: str) -> None:
    curve = getattr(getattr(key, "curve", None), "name", None)
    if curve not in CURVES:
        kind = type(key).__name__.lstrip("_")
        raise errors.KeyFileError(
            f"The {what} '{path}' is a {kind}: model signing takes "
            "elliptic-curve keys on P-256, P-384 or P-521 "
            "(openssl ecparam -name prime256v1 -genkey -noout -out key.pem)."
        )


# --- signing -----------------------------------------------------------------------


def sign(root: str, key: SigningKey) -> bytes:
    r"""Sign the files of a model folder; return the signature bundle.

    Symbolic links to files are signed as the files they lead to, as they
    are packed.

    """
    with tempfile.TemporaryDirectory() as tmp:
        key_file = _private_file(tmp, "key.pem", key.key)
        config = signing.Config().set_hashing_config(
            hashing.Config().use_file_serialization(allow_symlinks=True)
        )
        if key.certificates:
            own, *chain = [
                _private_file(tmp, f"certificate-{index}.pem", data)
                for index, data in enumerate(key.certificates)
            ]
            config.use_certificate_signer(
                private_key=key_file, signing_certificate=own, certificate_chain=chain
            )
        else:
            config.use_elliptic_key_signer(private_key=key_file)
        bundle = os.path.join(tmp, "model.sig")
        try:
            config.sign(root, bundle)
        except ValueError as ex:  # e.g. a link model-signing does not follow
            raise errors.SignatureError(f"Cannot sign '{root}': {ex}") from None
        with open(bundle, "rb") as fp:
            return fp.read()


def _private_file(folder: str, name: str, data: bytes) -> str:
    path = os.path.join(folder, name)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fp:
        fp.write(data)
    return path


# --- verifying ---------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class Bundle:
    r"""A signature bundle as read, not yet verified.

    Args:
        data: its bytes
        where: where it was read, for errors
        path: the file it was read from: in a cache, or on a backend

    Raises:
        audmodel.errors.SignatureError: if it is not a bundle (corrupt)

    """

    data: bytes
    where: str
    path: str

    def __post_init__(self) -> None:
        try:
            content = json.loads(self.data)
            material = content["verificationMaterial"]
            content["dsseEnvelope"]["signatures"][0]["sig"]
        except (ValueError, KeyError, IndexError, TypeError):
            raise errors.SignatureError(
                f"The signature {self.where} is corrupt: not a Sigstore bundle "
                "of model signing."
            ) from None
        if not isinstance(material, dict):
            raise errors.SignatureError(f"The signature {self.where} is corrupt.")

    @property
    def signer(self) -> str:
        r"""The fingerprint of the key that says it signed, unverified."""
        material = json.loads(self.data)["verificationMaterial"]
        hint = (material.get("publicKey") or {}).get("hint")
        if isinstance(hint, str) and re.fullmatch("[0-9a-f]{64}", hint):
            return f"sha256:{hint}"
        certificate = self._certificate(material)
        if certificate is not None:
            return fingerprint(certificate.public_key())
        return "unknown"

    @property
    def certified(self) -> bool:
        r"""Whether the bundle carries a certificate for its key."""
        material = json.loads(self.data)["verificationMaterial"]
        return bool(material.get("x509CertificateChain") or material.get("certificate"))

    @staticmethod
    def _certificate(material: dict) -> Any:
        chain = (material.get("x509CertificateChain") or {}).get("certificates")
        raw = chain[0].get("rawBytes") if chain else None
        raw = raw or (material.get("certificate") or {}).get("rawBytes")
        if not isinstance(raw, str):
            return None
        with contextlib.suppress(ValueError):
            return x509.load_der_x509_certificate(base64.b64decode(raw))
        return None


@dataclasses.dataclass(frozen=True)
class Signed:
    r"""What a verified bundle says: who signed, and the manifest signed."""

    signer: str  # fingerprint of the key
    digests: dict[str, str]  # manifest item -> hex digest
    serialization: dict[str, Any]  # how the files were hashed


def verified(bundle: Bundle, trust: Trusted) -> Signed:
    r"""Check a bundle's signature with the trusted keys.

    Raises:
        audmodel.errors.SignatureError: if no trusted key signed it, or its
            signature is not valid for the key it names

    """
    need_extra()
    signer = bundle.signer
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp, "model.sig")
        path.write_bytes(bundle.data)
        try:
            signature = sign_sigstore_pb.Signature.read(path)
        except Exception as ex:  # protobuf's errors: the bundle is corrupt
            raise errors.SignatureError(
                f"The signature {bundle.where} is corrupt: {ex}"
            ) from None
        if signer in trust.keys:
            verifier: Any = sign_ec_key.Verifier(
                pathlib.Path(trust.keys[signer]).expanduser()
            )
        elif trust.roots and bundle.certified:
            roots = [pathlib.Path(root).expanduser() for root in trust.roots]
            verifier = sign_certificate.Verifier(roots)
        else:
            raise errors.SignatureError(
                f"The signature {bundle.where} is by the key {signer}, "
                "which is not a trusted key."
            )
        try:
            manifest = verifier.verify(signature)
        except Exception as ex:  # cryptography's and model-signing's errors
            raise errors.SignatureError(
                f"The signature {bundle.where} is not valid for the key "
                f"{signer}: {ex or type(ex).__name__}"
            ) from None
    return Signed(signer, _digests(manifest), dict(manifest.serialization_type))


def claimed(bundle: Bundle) -> Signed:
    r"""What a bundle says was signed, its signature not checked.

    For telling whether stored files still match a signature where no key
    is at hand (:func:`audmodel.check`).

    Raises:
        audmodel.errors.SignatureError: if the bundle is corrupt

    """
    try:
        envelope = json.loads(bundle.data)["dsseEnvelope"]
        statement = json.loads(base64.b64decode(envelope["payload"]))
        predicate = statement["predicate"]
        digests = {str(r["name"]): str(r["digest"]) for r in predicate["resources"]}
        serialization_type = dict(predicate["serialization"])
    except (ValueError, KeyError, TypeError) as ex:
        raise errors.SignatureError(
            f"The signature {bundle.where} is corrupt: {ex}"
        ) from None
    return Signed(bundle.signer, digests, serialization_type)


def _digests(manifest: Any) -> dict[str, str]:
    r"""Each item of a manifest and its digest, in hex."""
    return {
        str(rd.identifier): rd.digest.digest_hex
        for rd in manifest.resource_descriptors()
    }


def difference(
    signed: Signed, folder: str, names: list[str] | None = None
) -> str | None:
    r"""The first file of ``folder`` that is not as signed, said; ``None`` if none.

    Args:
        signed: what the signature holds
        folder: the model folder, or a folder holding some of its files
        names: the files to check (relative POSIX paths); ``None`` for all
            files of the folder, which must then be exactly those signed

    """
    config = _hashing_of(signed.serialization)
    files = (
        None if names is None else [pathlib.Path(folder, *n.split("/")) for n in names]
    )
    try:
        actual = config.hash(folder, files_to_hash=files)
    except (OSError, ValueError) as ex:
        return f"its files cannot be read: {ex}"
    found = {
        str(rd.identifier): rd.digest.digest_hex for rd in actual.resource_descriptors()
    }
    expected = signed.digests
    if names is not None:
        expected = {k: v for k, v in expected.items() if _file_of(k) in set(names)}
        missing_names = set(names) - {_file_of(k) for k in signed.digests}
        if missing_names:
            return f"'{sorted(missing_names)[0]}' was not signed"
    for item in sorted(set(found) | set(expected)):
        if item not in expected:
            return f"'{_file_of(item)}' was not signed"
        if item not in found:
            return f"'{_file_of(item)}' is missing"
        if found[item] != expected[item]:
            return f"'{_file_of(item)}' differs from the signed file"
    return None


def _file_of(item: str) -> str:
    r"""The file of a manifest item (a shard is ``<file>:<start>:<end>``)."""
    name, colon, rest = item.rpartition(":")
    if colon and re.fullmatch(r"\d+", rest) and ":" in name:
        return name.rpartition(":")[0]
    return item


def _hashing_of(serialization_type: dict[str, Any]) -> Any:
    r"""The hashing the signer used, as the manifest records it."""
    method = serialization_type.get("method")
    options = {
        "hashing_algorithm": serialization_type.get("hash_type", "sha256"),
        "allow_symlinks": bool(serialization_type.get("allow_symlinks", False)),
        "ignore_paths": [
            pathlib.Path(p) for p in serialization_type.get("ignore_paths", [])
        ],
    }
    if method == "shards":
        return hashing.Config().use_shard_serialization(
            shard_size=int(serialization_type["shard_size"]), **options
        )
    return hashing.Config().use_file_serialization(**options)
