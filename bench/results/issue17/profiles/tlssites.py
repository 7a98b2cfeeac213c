#!/usr/bin/env python3
"""Live bytes per connection at the peak of a heaptrack profile (heaptrack_print -F f --flamegraph-cost-type peak),
for the TLS-specific allocation sites. usage: tlssites.py FILE CONNECTIONS"""
import re, subprocess, sys, collections
path, conns = sys.argv[1], int(sys.argv[2])
rows = [l.rstrip('\n').rsplit(' ', 1) for l in open(path) if l.strip()]
names = sorted({f for s, _ in rows for f in s.split(';')})
dm = dict(zip(names, subprocess.run(['swift', 'demangle', '--simplified', '--compact'], input='\n'.join(names),
                                    capture_output=True, text=True).stdout.split('\n')))
rules = [  # (label, pattern over the joined stack, leaf-first)
    ('NIOSSL BIO (BIO_new)', r'CNIOBoringSSL_BIO_new'),
    ('NIOSSL ciphertext write buffer (ByteBufferBIO.init, 16 KiB)', r'(?=.*ByteBufferBIO\.init)(?=.*ByteBufferAllocator\.buffer)'),
    ('NIOSSL plaintext read buffer (NIOSSLHandler.handlerAdded, 32 KiB)', r'(?=.*NIOSSLHandler\.handlerAdded)(?=.*ByteBufferAllocator\.buffer)(?!.*ByteBufferBIO)'),
    ('NIOSSL replacement write buffer (ByteBufferBIO.sslWrite)', r'ByteBufferBIO\.sslWrite'),
    ('NIOSSL queued-writes ring (MarkedCircularBuffer, 96 slots)', r'(?=.*MarkedCircularBuffer\.init)(?=.*NIOSSLHandler\.init)'),
    ('BoringSSL AEAD contexts, read + write (SSLAEADContext::Create)', r'SSLAEADContext::Create'),
    ('BoringSSL SSL3_STATE (tls_new)', r'tls_new'),
    ('BoringSSL established session (ssl_get_new_session)', r'ssl_get_new_session'),
    ('BoringSSL per-connection copy of the credential (SSLCredential::Dup, chain refs)', r'SSLCredential::Dup'),
    ('BoringSSL CERT copy (ssl_cert_dup)', r'ssl_cert_dup'),
    ('BoringSSL X509_VERIFY_PARAM', r'X509_VERIFY_PARAM_new'),
    ('BoringSSL cipher list copy', r'SSLCipherPreferenceList::CopyFrom|sk_SSL_CIPHER_dup'),
    ('BoringSSL SSL + SSL_CONFIG (SSL_new)', r'CNIOBoringSSL_SSL_new'),
    ('BoringSSL session cache', r'add_session|lh_SSL_SESSION'),
    ('NIOSSL ex_data slot', r'CRYPTO_set_ex_data'),
    ('NIOSSL handler, SSLConnection, ByteBufferBIO objects', r'NIOSSL'),
    ('other BoringSSL', r'BoringSSL'),
    ('channel receive buffer kept between reads', r'BaseStreamSocketChannel\.readFromSocket'),
]
g = collections.Counter()
for s, c in rows:
    stack = '|'.join(dm[f] for f in reversed([f for f in s.split(';') if f]))
    for label, pat in rules:
        if re.search(pat, stack):
            g[label] += int(c); break
    else:
        g['everything else (the plain connection, the process)'] += int(c)
total = sum(g.values())
print(f'{path}: live bytes at the peak / {conns} connections')
for label, _ in rules + [('everything else (the plain connection, the process)', '')]:
    if g[label]: print(f'{g[label] / conns:9.0f}  {label}')
print(f'{total / conns:9.0f}  total')
