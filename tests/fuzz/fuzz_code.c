/*
 * Typed OTP codes: mfa_code_canonical, and TOTP/HOTP verification and
 * resynchronisation with a fixed key, on any text.
 *
 * Invariants: canonicalisation accepts exactly what verification does not
 * refuse as MFA_ERR_CODE_FORMAT; its output is `digits` ASCII digits and is
 * a fixed point; verifying the canonical form gives the same verdict as the
 * typed form; the code generated for the matched step is that canonical
 * form.
 */
#include <mfa/otp.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t key[20] = "12345678901234567890"; /* RFC 4226 */

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char canon[MFA_CODE_BUFSIZE], again[MFA_CODE_BUFSIZE];
    char gen[MFA_CODE_BUFSIZE];
    mfa_otp_t *otp = NULL;
    unsigned digits, past, future;
    mfa_algorithm alg;
    uint64_t step = 0, next = 0;
    int32_t off = 0;
    int64_t now, last;
    long mark;
    char *text, *text2;
    mfa_rc rc, rcv, rch;

    if (size < 4)
        return 0;
    digits = MFA_DIGITS_MIN + data[0] % (MFA_DIGITS_MAX - MFA_DIGITS_MIN + 1);
    alg = (mfa_algorithm)((data[0] >> 4) % 3);
    past = data[1] % (MFA_WINDOW_MAX + 1);
    future = (data[1] >> 4) % (MFA_WINDOW_MAX + 1);
    /* a time near the RFC 6238 vectors' and an optional last step */
    now = 59 + (int64_t)data[2] * 30;
    last = data[3] & 0x80 ? (int64_t)(data[3] & 0x7f) : MFA_STEP_NONE;
    text = fuzz_cstr(data + 4, size - 4);
    /* a second code for resync: the text after the first ',' if any */
    text2 = strchr(text, ',');
    if (text2 != NULL)
        *text2++ = '\0';
    mark = fuzz_guarded_mark();

    rc = mfa_code_canonical(text, digits, canon, sizeof(canon));
    if (rc == MFA_OK) {
        FUZZ_ASSERT(strlen(canon) == digits);
        for (unsigned i = 0; i < digits; i++)
            FUZZ_ASSERT(canon[i] >= '0' && canon[i] <= '9');
        FUZZ_ASSERT(mfa_code_canonical(canon, digits, again, sizeof(again)) ==
                    MFA_OK);
        FUZZ_ASSERT(strcmp(canon, again) == 0);
    } else {
        FUZZ_ASSERT(rc == MFA_ERR_CODE_FORMAT);
    }

    FUZZ_ASSERT(mfa_otp_new(&otp, key, sizeof(key)) == MFA_OK);
    FUZZ_ASSERT(mfa_otp_set_algorithm(otp, alg) == MFA_OK);
    FUZZ_ASSERT(mfa_otp_set_digits(otp, digits) == MFA_OK);

    rcv = mfa_otp_totp_verify(otp, text, now, past, future, last, &step, &off);
    FUZZ_ASSERT((rc == MFA_ERR_CODE_FORMAT) == (rcv == MFA_ERR_CODE_FORMAT));
    if (rc == MFA_OK) {
        uint64_t step2 = 0;
        int32_t off2 = 0;
        FUZZ_ASSERT(mfa_otp_totp_verify(otp, canon, now, past, future, last,
                                        &step2, &off2) == rcv);
        if (rcv == MFA_OK) {
            FUZZ_ASSERT(step2 == step && off2 == off);
            FUZZ_ASSERT(off >= -(int32_t)past && off <= (int32_t)future);
            FUZZ_ASSERT(last < 0 || step > (uint64_t)last);
            FUZZ_ASSERT(mfa_otp_hotp(otp, step, gen, sizeof(gen)) == MFA_OK);
            FUZZ_ASSERT(strcmp(gen, canon) == 0);
        } else {
            FUZZ_ASSERT(rcv == MFA_ERR_CODE_WRONG || rcv == MFA_ERR_REPLAYED);
        }
    }
    if (text2 != NULL)
        (void)mfa_otp_totp_resync(otp, text, text2, now, data[2] % 40, &step,
                                  &off);

    FUZZ_ASSERT(mfa_otp_set_type(otp, MFA_HOTP) == MFA_OK);
    rch = mfa_otp_hotp_verify(otp, text, data[3], data[1] % 20, &next);
    FUZZ_ASSERT((rc == MFA_ERR_CODE_FORMAT) == (rch == MFA_ERR_CODE_FORMAT));
    if (rch == MFA_OK) {
        FUZZ_ASSERT(next > data[3] && next <= (uint64_t)data[3] + 20u);
        FUZZ_ASSERT(mfa_otp_hotp(otp, next - 1, gen, sizeof(gen)) == MFA_OK);
        FUZZ_ASSERT(strcmp(gen, canon) == 0);
    }
    if (text2 != NULL)
        (void)mfa_otp_hotp_resync(otp, text, text2, data[3], data[2] % 40,
                                  &next);

    mfa_otp_free(&otp);
    fuzz_guarded_check(mark);
    free(text);
    return 0;
}
