/*
 * Typed recovery codes: mfa_backup_normalize, mfa_backup_hash and
 * mfa_backup_match, and out-of-band codes through
 * mfa_oob_challenge_check, on any text.
 *
 * Invariants: a normalised code is 12 characters of the Crockford
 * alphabet and a fixed point; hashing the typed text equals hashing its
 * canonical form and is refused exactly when normalising is; the hash
 * matches a stored set only where it is equal; an out-of-band check counts
 * an attempt only for well-formed codes and never accepts another code.
 */
#include <mfa/backup.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

static mfa_keyring_t *ring;
static mfa_oob_challenge challenge;
static char oob_code[16];
static uint8_t stored[3][MFA_BACKUP_HASHBYTES];

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
    static const char *codes[3] = {"7K3M-9QXD-2VBN", "ABCD-EFGH-JKMN",
                                   "0123-4567-89AB"};
    uint8_t key[MFA_KEYRING_KEYBYTES];

    (void)argc;
    (void)argv;
    memset(key, 0x5a, sizeof(key));
    if (mfa_keyring_new(&ring) != MFA_OK ||
        mfa_keyring_add(ring, 7, key, 1) != MFA_OK)
        abort();
    for (size_t i = 0; i < 3; i++)
        if (mfa_backup_hash(ring, 0, codes[i], stored[i]) != MFA_OK)
            abort();
    if (mfa_oob_challenge_new(ring, "alice", "sms", 6, 1000, 0, 0, &challenge,
                              oob_code, sizeof(oob_code)) != MFA_OK)
        abort();
    return 0;
}

static int
crockford(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z' && c != 'I' &&
                                      c != 'L' && c != 'O' && c != 'U');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char canon[MFA_BACKUP_CHARS + 1], again[MFA_BACKUP_CHARS + 1];
    uint8_t h[MFA_BACKUP_HASHBYTES], h2[MFA_BACKUP_HASHBYTES];
    mfa_oob_challenge c;
    size_t idx = 99;
    long mark;
    char *text;
    mfa_rc rc, rch, rco;

    text = fuzz_cstr(data, size);
    mark = fuzz_guarded_mark();

    rc = mfa_backup_normalize(text, canon);
    rch = mfa_backup_hash(ring, 0, text, h);
    FUZZ_ASSERT((rc == MFA_OK) == (rch == MFA_OK));
    if (rc == MFA_OK) {
        size_t cl = strlen(canon);

        /* a native code, or the 8 digits of an imported scratch code */
        FUZZ_ASSERT(cl == MFA_BACKUP_CHARS || cl == MFA_BACKUP_SCRATCH_CHARS);
        for (size_t i = 0; i < cl; i++)
            FUZZ_ASSERT(cl == MFA_BACKUP_CHARS
                            ? crockford(canon[i])
                            : (canon[i] >= '0' && canon[i] <= '9'));
        FUZZ_ASSERT(mfa_backup_normalize(canon, again) == MFA_OK);
        FUZZ_ASSERT(strcmp(canon, again) == 0);
        FUZZ_ASSERT(mfa_backup_hash(ring, 7, canon, h2) == MFA_OK);
        FUZZ_ASSERT(memcmp(h, h2, sizeof(h)) == 0);
        rc = mfa_backup_match(h, (const uint8_t(*)[MFA_BACKUP_HASHBYTES])stored,
                              3, &idx);
        if (rc == MFA_OK)
            FUZZ_ASSERT(idx < 3 && memcmp(stored[idx], h, sizeof(h)) == 0);
        else
            FUZZ_ASSERT(rc == MFA_ERR_CODE_WRONG);
    } else {
        FUZZ_ASSERT(rc == MFA_ERR_BACKUP_FORMAT);
    }

    c = challenge;
    rco = mfa_oob_challenge_check(ring, "alice", &c, text, 1001);
    if (rco == MFA_OK) {
        /* only the code that was sent, give or take spaces */
        char digits[64];
        size_t n = 0;
        for (const char *p = text; *p != '\0' && n < sizeof(digits) - 1; p++)
            if (*p != ' ')
                digits[n++] = *p;
        digits[n] = '\0';
        FUZZ_ASSERT(strcmp(digits, oob_code) == 0);
    }
    if (rco == MFA_OK || rco == MFA_ERR_CODE_WRONG)
        FUZZ_ASSERT(c.attempts_left == challenge.attempts_left - 1);
    else
        FUZZ_ASSERT(c.attempts_left == challenge.attempts_left);

    fuzz_guarded_check(mark);
    free(text);
    return 0;
}
