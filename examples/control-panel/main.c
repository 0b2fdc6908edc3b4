/*
 * mfa-control-panel: start-up, options, the libmfa context and the HTTP
 * daemon.  See docs/control-panel.md.
 */
#include "web.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

cp_app cp;

static int64_t
clock_fn(void *arg)
{
    (void)arg;
    return cp_now();
}

void
cp_log(const char *fmt, ...)
{
    char when[32];
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    fprintf(stderr, "%s ", when);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* libmfa's events carry no secret and no code: log them as they are. */
static void
on_event(const mfa_event *ev, void *arg)
{
    (void)arg;
    cp_log("event %s account=%s factor=%s rc=%s failures=%u",
           mfa_event_name(ev->type), ev->account ? ev->account : "-",
           ev->factor_id ? ev->factor_id : "-", mfa_strerror_name(ev->rc),
           (unsigned)ev->failures);
}

/*
 * The out-of-band sender: where a real deployment hands the text to an SMS
 * gateway, the demo writes it to the outbox page.  The code goes into the
 * message only, never into a log line.
 */
static mfa_rc
oob_send(const char *account, const char *purpose, const char *code, void *arg)
{
    (void)arg;
    cp_user u;
    if (cp_users_get(cp.users, account, &u) != 0)
        return MFA_ERR_NOT_FOUND;
    const char *to =
        strcmp(purpose, "phone-setup") == 0 ? u.phone_pending : u.phone;
    if (!to[0])
        return MFA_ERR_NOT_FOUND;
    char text[160];
    snprintf(text, sizeof text,
             "%s: your verification code is %s. It expires in %d minutes. "
             "Do not share it.",
             cp.issuer, code, MFA_OOB_TTL_DEFAULT / 60);
    cp_outbox_add(cp_now(), to, account, text);
    sodium_memzero(text, sizeof text);
    cp_log("outbox: text message for %s (%s)", account, purpose);
    return MFA_OK;
}

static void
usage(FILE *f)
{
    fprintf(f,
            "usage: mfa-control-panel [options]\n"
            "  --listen ADDR:PORT   address to serve (default "
            "127.0.0.1:8080; port 0 picks a free one)\n"
            "  --data DIR           data directory (default: control-panel-data"
            " next to the program)\n"
            "  --store SPEC         libmfa store: sqlite:PATH (default "
            "DIR/mfa.db) or postgres:CONNINFO\n"
            "  --pg-schema NAME     PostgreSQL schema for the store (default "
            "mfa)\n"
            "  --keyring PATH       key ring file (default DIR/keyring, "
            "created with mode 0600)\n"
            "  --issuer NAME        issuer shown in authenticator apps "
            "(default \"Control Panel\")\n"
            "  --rp-id ID           passkeys: the relying party id, the site's "
            "domain (default\n"
            "                       localhost)\n"
            "  --origin URL         passkeys: an origin the browser may use, "
            "repeatable (default\n"
            "                       http://localhost:PORT for localhost, else "
            "https://ID)\n"
            "  --tls-cert FILE --tls-key FILE   serve HTTPS (Secure cookies)\n"
            "  --secure-cookies     Secure cookies behind a TLS proxy\n"
            "  --no-demo-admin      do not (re)set the demo administrator\n"
            "  --threads N          request threads (default 4)\n"
            "  --per-ip-limit N     connections per client address (default "
            "32)\n"
            "  --timeout SECONDS    idle connection timeout (default 15)\n"
            "  --help\n");
}

static char *
read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    cp_buf b = {0};
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
        cp_buf_putn(&b, chunk, n);
    fclose(f);
    if (b.oom) {
        cp_buf_free(&b);
        return NULL;
    }
    return b.p;
}

static int
parse_listen(const char *s, char *host, size_t hostsize, uint16_t *port)
{
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= hostsize)
        return -1;
    memcpy(host, s, (size_t)(colon - s));
    host[colon - s] = '\0';
    char *end;
    errno = 0;
    long p = strtol(colon + 1, &end, 10);
    if (errno || *end || end == colon + 1 || p < 0 || p > 65535)
        return -1;
    *port = (uint16_t)p;
    return 0;
}

/*
 * The listening socket, bound before the daemon starts so that the port
 * (port 0 picks one) is known to the passkey origin, which must be set on
 * the ctx before any request runs.
 */
static int
listen_socket(const struct sockaddr_in *sa, unsigned *bound)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    struct sockaddr_in got;
    socklen_t len = sizeof got;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (const struct sockaddr *)sa, sizeof *sa) != 0 ||
        listen(fd, 256) != 0 ||
        getsockname(fd, (struct sockaddr *)&got, &len) != 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0) {
        close(fd);
        return -1;
    }
    *bound = ntohs(got.sin_port);
    return fd;
}

/*
 * Passkeys: the relying party, from --rp-id and --origin, checked before
 * anything is created.  The browser checks that the page's origin belongs
 * to the rp id; libmfa checks the origin in every response against this
 * list.  rp_uv is the same one requiring user verification, for the
 * sign-in without a password.  0 ok, 2 a bad option (the message printed).
 */
static int
passkeys_rp(const char *rp_id, const char *const *origins, size_t n, int asked,
            int tls, unsigned port)
{
    mfa_rc rc = mfa_webauthn_rp_new(&cp.rp, rp_id, cp.issuer);
    if (rc == MFA_ERR_UNSUPPORTED && !asked) {
        cp_log("passkeys off: libmfa was built without WebAuthn");
        return 0;
    }
    if (rc == MFA_ERR_UNSUPPORTED) {
        fprintf(stderr, "mfa-control-panel: --rp-id and --origin need a "
                        "libmfa built with WebAuthn (-Dwebauthn=enabled)\n");
        return 2;
    }
    if (rc == MFA_OK)
        rc = mfa_webauthn_rp_new(&cp.rp_uv, rp_id, cp.issuer);
    if (rc != MFA_OK) {
        fprintf(stderr,
                "mfa-control-panel: bad --rp-id \"%s\": %s (a domain name "
                "such as example.com, or localhost)\n",
                rp_id, mfa_strerror(rc));
        return 2;
    }
    char def[64];
    const char *one[1];
    if (n == 0 && strcmp(rp_id, "localhost") == 0) {
        /* localhost is a secure context for browsers even over http */
        snprintf(def, sizeof def, "%s://localhost:%u", tls ? "https" : "http",
                 port);
        one[0] = def;
        origins = one;
        n = 1;
    }
    for (size_t i = 0; i < n; i++) {
        rc = mfa_webauthn_rp_add_origin(cp.rp, origins[i]);
        if (rc == MFA_OK)
            rc = mfa_webauthn_rp_add_origin(cp.rp_uv, origins[i]);
        if (rc != MFA_OK) {
            fprintf(stderr,
                    "mfa-control-panel: bad --origin \"%s\": %s (https://HOST"
                    "[:PORT] with HOST the rp id \"%s\" or under it, or "
                    "http://localhost:PORT)\n",
                    origins[i], mfa_strerror(rc), rp_id);
            return 2;
        }
    }
    rc = mfa_webauthn_rp_set_user_verification(cp.rp_uv,
                                               MFA_WEBAUTHN_UV_REQUIRED);
    if (rc != MFA_OK) {
        fprintf(stderr, "mfa-control-panel: passkeys: %s\n", mfa_strerror(rc));
        return 2;
    }
    cp.passkeys = 1;
    printf("mfa-control-panel: passkeys for rp id %s from ", rp_id);
    for (size_t i = 0; i < n; i++)
        printf("%s%s", i ? ", " : "", origins[i]);
    if (n == 0)
        printf("https://%s", rp_id);
    printf("\n");
    return 0;
}

/* The relying parties on the ctx, and the second ctx (same store, key
 * ring, clock and events) for the sign-in without a password. */
static int
passkeys_ctx(void)
{
    if (!cp.passkeys)
        return 0;
    mfa_rc rc = mfa_ctx_set_webauthn(cp.ctx, cp.rp);
    if (rc == MFA_OK)
        rc = mfa_ctx_new(&cp.ctx_uv, cp.store, cp.keyring);
    if (rc == MFA_OK)
        rc = mfa_ctx_set_issuer(cp.ctx_uv, cp.issuer);
    if (rc == MFA_OK)
        rc = mfa_ctx_set_webauthn(cp.ctx_uv, cp.rp_uv);
    if (rc != MFA_OK) {
        fprintf(stderr, "mfa-control-panel: passkeys: %s\n", mfa_strerror(rc));
        return 1;
    }
    mfa_ctx_set_clock(cp.ctx_uv, clock_fn, NULL);
    mfa_ctx_set_event_cb(cp.ctx_uv, on_event, NULL);
    return 0;
}

/* A readable random password for the demo administrator. */
static void
demo_password(char out[20])
{
    static const char alphabet[] = "abcdefghjkmnpqrstuvwxyz23456789";
    size_t j = 0;
    for (int g = 0; g < 4; g++) {
        for (int i = 0; i < 4; i++)
            out[j++] = alphabet[randombytes_uniform(sizeof alphabet - 1)];
        out[j++] = g < 3 ? '-' : '\0';
    }
}

static int
default_data_dir(char *out, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return snprintf(out, size, "control-panel-data") >= (int)size ? -1 : 0;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (slash)
        *slash = '\0';
    return snprintf(out, size, "%s/control-panel-data", exe) >= (int)size ? -1
                                                                          : 0;
}

int
main(int argc, char **argv)
{
    const char *listen = "127.0.0.1:8080", *data = NULL, *store_spec = NULL,
               *keyring_path = NULL, *tls_cert = NULL, *tls_key = NULL,
               *pg_schema = NULL, *rp_id = "localhost";
    const char *origins[MFA_WEBAUTHN_ORIGINS_MAX];
    size_t n_origins = 0;
    int demo_admin = 1, rp_asked = 0;
    cp.issuer = "Control Panel";
    enum {
        O_LISTEN = 256,
        O_DATA,
        O_STORE,
        O_KEYRING,
        O_ISSUER,
        O_CERT,
        O_KEY,
        O_SECURE,
        O_NODEMO,
        O_HELP,
        O_PGSCHEMA,
        O_THREADS,
        O_PERIP,
        O_TIMEOUT,
        O_RPID,
        O_ORIGIN
    };
    unsigned threads = 4, per_ip = 32, timeout = 15;
    static const struct option opts[] = {
        {"listen", required_argument, NULL, O_LISTEN},
        {"data", required_argument, NULL, O_DATA},
        {"store", required_argument, NULL, O_STORE},
        {"keyring", required_argument, NULL, O_KEYRING},
        {"pg-schema", required_argument, NULL, O_PGSCHEMA},
        {"issuer", required_argument, NULL, O_ISSUER},
        {"tls-cert", required_argument, NULL, O_CERT},
        {"tls-key", required_argument, NULL, O_KEY},
        {"secure-cookies", no_argument, NULL, O_SECURE},
        {"no-demo-admin", no_argument, NULL, O_NODEMO},
        {"help", no_argument, NULL, O_HELP},
        {"threads", required_argument, NULL, O_THREADS},
        {"per-ip-limit", required_argument, NULL, O_PERIP},
        {"timeout", required_argument, NULL, O_TIMEOUT},
        {"rp-id", required_argument, NULL, O_RPID},
        {"origin", required_argument, NULL, O_ORIGIN},
        {NULL, 0, NULL, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
        case O_LISTEN:
            listen = optarg;
            break;
        case O_DATA:
            data = optarg;
            break;
        case O_STORE:
            store_spec = optarg;
            break;
        case O_KEYRING:
            keyring_path = optarg;
            break;
        case O_PGSCHEMA:
            pg_schema = optarg;
            break;
        case O_ISSUER:
            cp.issuer = optarg;
            break;
        case O_RPID:
            rp_id = optarg;
            rp_asked = 1;
            break;
        case O_ORIGIN:
            if (n_origins == MFA_WEBAUTHN_ORIGINS_MAX) {
                fprintf(stderr, "mfa-control-panel: at most %d --origin\n",
                        MFA_WEBAUTHN_ORIGINS_MAX);
                return 2;
            }
            origins[n_origins++] = optarg;
            rp_asked = 1;
            break;
        case O_CERT:
            tls_cert = optarg;
            break;
        case O_KEY:
            tls_key = optarg;
            break;
        case O_SECURE:
            cp.secure_cookies = 1;
            break;
        case O_NODEMO:
            demo_admin = 0;
            break;
        case O_THREADS:
        case O_PERIP:
        case O_TIMEOUT: {
            char *end;
            unsigned long v = strtoul(optarg, &end, 10);
            if (*end || v < 1 || v > 100000) {
                usage(stderr);
                return 2;
            }
            *(c == O_THREADS ? &threads
              : c == O_PERIP ? &per_ip
                             : &timeout) = (unsigned)v;
            break;
        }
        case O_HELP:
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc || (!tls_cert) != (!tls_key)) {
        usage(stderr);
        return 2;
    }
    char host[256];
    uint16_t port;
    if (parse_listen(listen, host, sizeof host, &port) != 0) {
        fprintf(stderr, "mfa-control-panel: bad --listen %s\n", listen);
        return 2;
    }
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof sa);
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    if (inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        fprintf(stderr, "mfa-control-panel: --listen needs an IPv4 address\n");
        return 2;
    }
    if (mfa_init() != MFA_OK || sodium_init() < 0) {
        fprintf(stderr, "mfa-control-panel: cannot initialise libmfa\n");
        return 1;
    }
    unsigned bound = 0;
    int lfd = listen_socket(&sa, &bound);
    if (lfd < 0) {
        fprintf(stderr, "mfa-control-panel: cannot listen on %s: %s\n", listen,
                strerror(errno));
        return 1;
    }
    int k = passkeys_rp(rp_id, origins, n_origins, rp_asked, tls_cert != NULL,
                        bound);
    if (k != 0)
        return k;

    /* The databases and the key ring are nobody else's business. */
    umask(077);
    cp_test_hooks_init();

    char datadir[PATH_MAX], path[PATH_MAX + 32], spec[PATH_MAX + 32],
        krpath[PATH_MAX + 32];
    if (data)
        snprintf(datadir, sizeof datadir, "%s", data);
    else if (default_data_dir(datadir, sizeof datadir) != 0)
        return 1;
    if (mkdir(datadir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "mfa-control-panel: cannot create %s: %s\n", datadir,
                strerror(errno));
        return 1;
    }

    /* ---- the libmfa context: key ring, store, ctx (copy this part) ---- */
    snprintf(krpath, sizeof krpath, "%s/keyring", datadir);
    if (!keyring_path)
        keyring_path = krpath;
    mfa_rc rc;
    if (access(keyring_path, F_OK) != 0) {
        rc = mfa_keyring_create_file(keyring_path);
        if (rc != MFA_OK) {
            fprintf(stderr,
                    "mfa-control-panel: cannot create key ring %s: %s\n",
                    keyring_path, mfa_strerror(rc));
            return 1;
        }
        cp_log("created key ring %s (mode 0600)", keyring_path);
    }
    rc = mfa_keyring_load(&cp.keyring, keyring_path);
    if (rc != MFA_OK) {
        fprintf(stderr, "mfa-control-panel: key ring %s: %s\n", keyring_path,
                mfa_strerror(rc));
        return 1;
    }

    snprintf(spec, sizeof spec, "sqlite:%s/mfa.db", datadir);
    snprintf(path, sizeof path, "%s/users.db", datadir);
    /*
     * Opening never creates.  Only the first start of a fresh data
     * directory (no user database yet) creates its own SQLite store; once
     * users exist, a missing store is an error, never "nobody has MFA".
     */
    if (!store_spec && access(path, F_OK) != 0) {
        rc = mfa_store_create(&cp.store, spec);
        if (rc == MFA_OK)
            cp_log("first start: created the store %s", spec + 7);
    } else if (!store_spec) {
        rc = mfa_store_open(&cp.store, spec);
    } else if (pg_schema && strncmp(store_spec, "postgres:", 9) == 0) {
        rc = mfa_store_postgres_open(&cp.store, store_spec + 9, pg_schema);
    } else {
        rc = mfa_store_open(&cp.store, store_spec);
    }
    if (!store_spec)
        store_spec = spec;
    if (rc != MFA_OK) {
        /* The spec may hold a password (postgres:...): name only the kind. */
        fprintf(stderr, "mfa-control-panel: cannot open the %.*s store: %s\n",
                (int)strcspn(store_spec, ":"), store_spec, mfa_strerror(rc));
        return 1;
    }
    rc = mfa_ctx_new(&cp.ctx, cp.store, cp.keyring);
    if (rc == MFA_OK)
        rc = mfa_ctx_set_issuer(cp.ctx, cp.issuer);
    if (rc != MFA_OK) {
        fprintf(stderr, "mfa-control-panel: %s\n", mfa_strerror(rc));
        return 1;
    }
    mfa_ctx_set_clock(cp.ctx, clock_fn, NULL);
    mfa_ctx_set_event_cb(cp.ctx, on_event, NULL);
    mfa_ctx_set_oob_sender(cp.ctx, oob_send, NULL);
    if (passkeys_ctx() != 0)
        return 1;
    /* ---- end of the libmfa context ---- */

    if (cp_users_open(&cp.users, path) != 0)
        return 1;
    char password[20] = "";
    if (demo_admin) {
        demo_password(password);
        if (cp_users_set_password(cp.users, "admin", password, 1) != 0) {
            fprintf(stderr, "mfa-control-panel: cannot create the demo "
                            "administrator\n");
            return 1;
        }
    }

    /* Signals are taken by sigwait below, not by the daemon's thread. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    char *cert = NULL, *key = NULL;
    /*
     * A pool of threads on the one mfa_ctx (thread-safe once configured);
     * epoll, so that the number of connections is not capped at select's
     * FD_SETSIZE; per client address at most per_ip connections, and an
     * idle or half-sent one is closed after `timeout` seconds: one client
     * cannot hold every connection.
     */
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
    if (MHD_is_feature_supported(MHD_FEATURE_EPOLL) == MHD_YES)
        flags |= MHD_USE_EPOLL;
    if (tls_cert) {
        cert = read_file(tls_cert);
        key = read_file(tls_key);
        if (!cert || !key) {
            fprintf(stderr, "mfa-control-panel: cannot read the TLS files\n");
            return 1;
        }
        flags |= MHD_USE_TLS;
        cp.secure_cookies = 1;
    }
    struct MHD_OptionItem tls_opts[] = {{MHD_OPTION_HTTPS_MEM_CERT, 0, cert},
                                        {MHD_OPTION_HTTPS_MEM_KEY, 0, key},
                                        {MHD_OPTION_END, 0, NULL}};
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)bound, NULL, NULL, cp_handle, NULL,
        MHD_OPTION_LISTEN_SOCKET, lfd, MHD_OPTION_NOTIFY_COMPLETED,
        cp_request_completed, NULL, MHD_OPTION_THREAD_POOL_SIZE, threads,
        MHD_OPTION_CONNECTION_TIMEOUT, timeout,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip, MHD_OPTION_ARRAY,
        tls_cert ? tls_opts : tls_opts + 2, MHD_OPTION_END);
    if (!d) {
        fprintf(stderr, "mfa-control-panel: cannot listen on %s\n", listen);
        return 1;
    }
    printf("mfa-control-panel: listening on %s://%s:%u/\n",
           tls_cert ? "https" : "http", host, bound);
    printf("mfa-control-panel: data in %s, store %s\n", datadir,
           mfa_store_name(cp.store));
    if (demo_admin)
        printf("Demo administrator: user name \"admin\", password \"%s\"\n",
               password);
    if (cp.passkeys && strcmp(rp_id, "localhost") == 0)
        printf("Open %s://localhost:%u/ in a browser (passkeys need the name "
               "localhost); Ctrl-C stops the server.\n",
               tls_cert ? "https" : "http", bound);
    else
        printf("Open the address above in a browser; Ctrl-C stops the "
               "server.\n");
    fflush(stdout);
    sodium_memzero(password, sizeof password);

    int sig = 0;
    sigwait(&sigs, &sig);
    cp_log("stopping (signal %d)", sig);
    MHD_stop_daemon(d);
    cp_sessions_free_all();
    cp_outbox_clear();
    mfa_ctx_free(&cp.ctx_uv);
    mfa_ctx_free(&cp.ctx);
    mfa_webauthn_rp_free(&cp.rp_uv);
    mfa_webauthn_rp_free(&cp.rp);
    mfa_store_free(&cp.store);
    mfa_keyring_free(&cp.keyring);
    cp_users_close(&cp.users);
    if (key) {
        sodium_memzero(key, strlen(key));
        free(key);
    }
    free(cert);
    return 0;
}
