/*
 * libmfa's verdict on every case of a WebAuthn vectors file, one line
 * each: NAME <tab> MFA_OK or the MFA_ERR_* name.  compare.py puts these
 * next to python-fido2's.
 *   webauthn-verdicts FILE
 */
#include "vectors.h"

int
main(int argc, char **argv)
{
    json_object *v;
    int bad = 0;

    if (argc != 2) {
        fprintf(stderr, "usage: %s VECTORS.json\n", argv[0]);
        return 2;
    }
    if ((v = wv_load(argv[1])) == NULL) {
        fprintf(stderr, "%s: cannot read %s\n", argv[0], argv[1]);
        return 2;
    }
    for (size_t i = 0; i < json_object_array_length(v); i++) {
        struct wv_case k;

        if (wv_case_get(json_object_array_get_idx(v, i), &k) != 0) {
            fprintf(stderr, "case %zu is malformed\n", i);
            bad = 1;
            continue;
        }
        printf("%s\t%s\n", k.name,
               mfa_strerror_name(wv_case_run(&k, NULL, NULL)));
        wv_case_clear(&k);
    }
    json_object_put(v);
    return bad;
}
