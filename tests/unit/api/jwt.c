/* Unit tests for src/api/jwt.c: base64url, key ids, RS256 signing and
 * verification, JWKs. The fixed vectors were made with the openssl CLI
 * (pkey -pubout | dgst -sha256 for the key id, dgst -sha256 -sign for the
 * signature), so they check the C code against an independent
 * implementation. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <openssl/pem.h>

#include "../../../src/api/jwt.c"

static const char test_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIICdQIBADANBgkqhkiG9w0BAQEFAASCAl8wggJbAgEAAoGBALCSY2xnTa7Tc/+r\n"
    "eY3ycS9tUULfufdu1yXNWT/K/O8epiRI2ewmAlszrraRiTq5AYiPLLx/mTuibiIs\n"
    "eLTmqg7DBGtNich1u2De7ETCcNzcuqqZzfej1Gvt8iiCvqJ1tD7IXijehvaxnyq6\n"
    "eibiY+ZtlSkr5RTxcbRyPuOq9HSVAgMBAAECgYA6nDz4bMnycCofAdJVddZwQb8p\n"
    "jY3zPg2YdLNdY4nV7byEatI7etppX5xs6Z49qc+CftQAtfItQ1t/aHegxLhJpNq3\n"
    "SNSr0NHSUQXG1pWiSKpcrReoa91wP9Ong04nLX4YqnA35GocSQNeTOmEwCJDWuC6\n"
    "VJU+MnK8dN+sWyzNQQJBAN11VVvUviPOf2Nd44Ixc9y9UQAkZmZNBdDdy/cUS/5/\n"
    "QLb4y0Z5L0fa8ia6Tts9XcS+L1DigImxinj7IPU157kCQQDMHMUsnjn2cg6dVD9y\n"
    "/EyQqEB+bWpRTPs+5tnQ3WessGmw+4VQq137jUvZiRRs1lRZbbuWbnWHoXxsruey\n"
    "yem9AkAuw4sd1CO+jelqgzX6lRTBRRzoqccRzSvwOhXK+/c8K4Tv3kOWgxqP0tUV\n"
    "hnwGYcP+OqblLp8z9FCoUWdZQGPJAkB3GAZYHU5WpIAwfjqzPdDyyqku22qgW1lx\n"
    "f0LyIm1ejmRs1qUXx5WDtBLgr6ISSxBWSbedc3/yDmBKDde1MyjFAkBY0fN2/orN\n"
    "h54lKWQbd05asMfZthySFU+rHJ/2T4voO3kJDi8Q22666EO0LaJz18CMKfu/YCiF\n"
    "MLBrbeDdsfTi\n"
    "-----END PRIVATE KEY-----\n";

/* openssl pkey -pubout -outform DER | openssl dgst -sha256 -binary | base64url */
static const char test_kid[] = "-zxSywfhDJRNPW31rb85suwKsgTrdTELJEuAOE0_6X4";

/* header {"alg":"RS256","kid":test_kid}, payload
 * {"sub":"system:serviceaccount:ns:sa","exp":2000000000}, signed with openssl dgst */
static const char test_token[] =
    "eyJhbGciOiJSUzI1NiIsImtpZCI6Ii16eFN5d2ZoREpSTlBXMzFyYjg1c3V3S3NnVHJkVEVMSkV1QU9F"
    "MF82WDQifQ.eyJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6bnM6c2EiLCJleHAiOjIwMDAwMDAwM"
    "DB9.c8IGn3sTk-a1fwgQws3KhWPyFJ5X6vZgylV22EFB6OzOj3iWoB4LajTAyedSyy8dpIy-0v52FKZR"
    "7P-vz-gKGiGd8SRbl-1ZjzDO7oa2ewoABX9UBlRlSTnheI9D7rOLsAJyw-DhsOrWJp0FwaeDUVLovBK6"
    "ESG7YO-peYHQnoQ";

static EVP_PKEY *test_key(void)
{
    BIO *b = BIO_new_mem_buf(test_key_pem, -1);
    EVP_PKEY *k = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
    BIO_free(b);
    assert_non_null(k);
    return k;
}

static void test_b64url_round_trip(void **state)
{
    const char *data = "\xfb\xff\x00"
                       "ab?>~";
    static const char *const want[] = {"", "-w", "-_8", "-_8A", "-_8AYQ", "-_8AYWI", "-_8AYWI_"};
    for (size_t n = 0; n < 7; n++) {
        char *e = k1s_b64url_encode(data, n);
        assert_string_equal(e, want[n]);
        unsigned char *d;
        size_t len;
        assert_int_equal(k1s_b64url_decode(e, strlen(e), &d, &len), 0);
        assert_int_equal(len, n);
        assert_memory_equal(d, data, n);
        free(d);
        free(e);
    }
    unsigned char *d;
    size_t len;
    /* padding is accepted; bad characters, impossible lengths and stray bits are not */
    assert_int_equal(k1s_b64url_decode("-w==", 4, &d, &len), 0);
    assert_int_equal(len, 1);
    free(d);
    assert_int_equal(k1s_b64url_decode("ab+c", 4, &d, &len), -EINVAL);
    assert_int_equal(k1s_b64url_decode("abcde", 5, &d, &len), -EINVAL);
    assert_int_equal(k1s_b64url_decode("-x", 2, &d, &len), -EINVAL);
}

static void test_key_id(void **state)
{
    EVP_PKEY *k = test_key();
    char kid[64];
    assert_int_equal(k1s_jwt_key_id(k, kid), 0);
    assert_string_equal(kid, test_kid);
    EVP_PKEY_free(k);
}

static void test_sign_matches_openssl(void **state)
{
    EVP_PKEY *k = test_key();
    json_t *claims =
        json_pack("{s:s, s:i}", "sub", "system:serviceaccount:ns:sa", "exp", 2000000000);
    char *tok;
    assert_int_equal(k1s_jwt_sign(k, test_kid, claims, &tok), 0);
    assert_string_equal(tok, test_token);
    free(tok);
    json_decref(claims);
    EVP_PKEY_free(k);
}

static void test_verify(void **state)
{
    EVP_PKEY *k = test_key();
    k1s_err_t err = {0};
    json_t *claims = NULL;
    assert_int_equal(k1s_jwt_verify(k, test_kid, test_token, &claims, &err), 0);
    assert_string_equal(json_string_value(json_object_get(claims, "sub")),
                        "system:serviceaccount:ns:sa");
    json_decref(claims);
    /* any kid accepted when the caller does not care; a different one is refused */
    assert_int_equal(k1s_jwt_verify(k, NULL, test_token, &claims, &err), 0);
    json_decref(claims);
    assert_int_equal(k1s_jwt_verify(k, "other", test_token, &claims, &err), -EBADMSG);

    /* a changed payload (same length) breaks the signature */
    char *bad = k1s_xstrdup(test_token);
    char *p = strchr(bad, '.') + 5;
    *p = *p == 'A' ? 'B' : 'A';
    assert_int_equal(k1s_jwt_verify(k, test_kid, bad, &claims, &err), -EBADMSG);
    free(bad);
    /* so does a changed signature */
    bad = k1s_xstrdup(test_token);
    p = strrchr(bad, '.') + 3;
    *p = *p == 'A' ? 'B' : 'A';
    assert_int_equal(k1s_jwt_verify(k, test_kid, bad, &claims, &err), -EBADMSG);
    free(bad);
    /* alg "none" with no signature */
    char *h = k1s_b64url_encode("{\"alg\":\"none\"}", 14);
    const char *payload = strchr(test_token, '.');
    char *none = k1s_xasprintf("%s%.*s.", h, (int)(strrchr(test_token, '.') - payload), payload);
    assert_int_equal(k1s_jwt_verify(k, NULL, none, &claims, &err), -EBADMSG);
    free(h);
    free(none);
    /* malformed */
    assert_int_equal(k1s_jwt_verify(k, NULL, "abc", &claims, &err), -EINVAL);
    assert_int_equal(k1s_jwt_verify(k, NULL, "a.b.c.d", &claims, &err), -EINVAL);
    assert_int_equal(k1s_jwt_verify(k, NULL, "!!.b.c", &claims, &err), -EINVAL);
    EVP_PKEY_free(k);
}

static void test_other_key_refused(void **state)
{
    EVP_PKEY *mine = EVP_RSA_gen(2048);
    EVP_PKEY *other = test_key();
    char kid[64];
    assert_int_equal(k1s_jwt_key_id(mine, kid), 0);
    json_t *claims = json_pack("{s:s}", "iss", "x");
    char *tok;
    assert_int_equal(k1s_jwt_sign(mine, kid, claims, &tok), 0);
    json_t *out = NULL;
    k1s_err_t err = {0};
    assert_int_equal(k1s_jwt_verify(mine, kid, tok, &out, &err), 0);
    assert_true(json_equal(out, claims));
    json_decref(out);
    assert_int_equal(k1s_jwt_verify(other, NULL, tok, &out, &err), -EBADMSG);
    free(tok);
    json_decref(claims);
    EVP_PKEY_free(mine);
    EVP_PKEY_free(other);
}

static void test_jwk(void **state)
{
    EVP_PKEY *k = test_key();
    json_t *jwk = k1s_jwt_jwk(k, test_kid);
    assert_non_null(jwk);
    assert_string_equal(json_string_value(json_object_get(jwk, "kty")), "RSA");
    assert_string_equal(json_string_value(json_object_get(jwk, "alg")), "RS256");
    assert_string_equal(json_string_value(json_object_get(jwk, "use")), "sig");
    assert_string_equal(json_string_value(json_object_get(jwk, "kid")), test_kid);
    assert_string_equal(json_string_value(json_object_get(jwk, "e")), "AQAB");
    /* the modulus decodes to the key's 1024 bits */
    const char *n = json_string_value(json_object_get(jwk, "n"));
    unsigned char *raw;
    size_t len;
    assert_int_equal(k1s_b64url_decode(n, strlen(n), &raw, &len), 0);
    assert_int_equal(len, 128);
    BIGNUM *want = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(k, "n", &want), 1);
    BIGNUM *got = BN_bin2bn(raw, (int)len, NULL);
    assert_int_equal(BN_cmp(want, got), 0);
    BN_free(want);
    BN_free(got);
    free(raw);
    json_decref(jwk);
    /* not RSA: no JWK */
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    assert_null(k1s_jwt_jwk(ec, "x"));
    EVP_PKEY_free(ec);
    EVP_PKEY_free(k);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_b64url_round_trip),    cmocka_unit_test(test_key_id),
        cmocka_unit_test(test_sign_matches_openssl), cmocka_unit_test(test_verify),
        cmocka_unit_test(test_other_key_refused),    cmocka_unit_test(test_jwk),
    };
    return cmocka_run_group_tests_name("api/jwt", tests, NULL, NULL);
}
