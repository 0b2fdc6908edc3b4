/* The request object and the helpers that pages.c builds pages with. */
#ifndef CP_HTTP_H
#define CP_HTTP_H

#include "cp.h"

#define CP_FIELDS_MAX 32
#define CP_HTTP_UNPROCESSABLE                                                  \
    422 /* a refused code: the form is shown again                             \
         */

typedef struct cp_field {
    const char *name;
    const char *value;
} cp_field;

typedef struct cp_req {
    struct MHD_Connection *conn;
    const char *url;
    const char *method;
    int64_t now;
    cp_buf body; /* the raw form, decoded in place */
    int too_big;
    int is_static;
    cp_field fields[CP_FIELDS_MAX];
    size_t nfields;
    char cookie_in[2 * CP_SESSION_IDBYTES + 1]; /* as the browser sent it */
    cp_session *s;
} cp_req;

/* A form field, "" when absent. */
const char *cp_form(const cp_req *r, const char *name);
/* Queue an HTML page; takes over html (freed, wiped if secret). */
enum MHD_Result cp_send_html(cp_req *r, unsigned status, cp_buf *html);
enum MHD_Result cp_send_static(cp_req *r, const char *body, const char *type);
/* 303 See Other. */
enum MHD_Result cp_redirect(cp_req *r, const char *location);
void cp_csrf_input(cp_buf *b, const cp_req *r);

/* pages.c */
enum MHD_Result cp_route(cp_req *r, int is_post);
enum MHD_Result cp_error_page(cp_req *r, unsigned status, const char *msg);

#endif /* CP_HTTP_H */
