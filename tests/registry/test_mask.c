/*
 * test_mask - swarm_registry_mask_conninfo never lets a password through,
 * and swarm_sha256_hex matches known digests.  No database needed.
 */
#include <stdio.h>
#include <string.h>

#include "swarm/registry.h"

static int failures;

static void mask(const char *in, const char *want) {
        char buf[256];
        swarm_registry_mask_conninfo(in, buf, sizeof(buf));
        if (strcmp(buf, want)) {
                fprintf(stderr, "FAIL mask(\"%s\") = \"%s\", want \"%s\"\n", in, buf, want);
                failures++;
        }
}

int main(void) {
        char hex[65], small[12];

        mask("host=db user=alice password=s3cret dbname=x",
             "host=db user=alice password=**** dbname=x");
        /* libpq quoting: backslash escapes inside single quotes */
        mask("password = 'it\\'s a \\\\ secret' host=db", "password=**** host=db");
        mask("host=db", "host=db");
        mask("", "");
        mask(NULL, "");
        mask("postgresql://alice:s3cret@db:5432/swarm", "postgresql://alice:****@db:5432/swarm");
        mask("postgres://alice@db/swarm?password=s3cret&sslmode=require",
             "postgres://alice@db/swarm?password=****&sslmode=require");
        mask("postgresql://db/swarm", "postgresql://db/swarm");
        mask("service=swarm passwordx=1", "service=swarm passwordx=1");
        /* the client key's passphrase is a secret too */
        mask("host=db sslkey=/k sslpassword=k3y sslmode=verify-full",
             "host=db sslkey=/k sslpassword=**** sslmode=verify-full");
        mask("sslpassword = 'a b\\'c' password=pw",
             "sslpassword=**** password=****");
        mask("postgresql://alice@db/swarm?sslpassword=k3y&sslmode=require",
             "postgresql://alice@db/swarm?sslpassword=****&sslmode=require");
        mask("host=db xsslpassword=1", "host=db xsslpassword=1");
        swarm_registry_mask_conninfo("password=s3cret", small, sizeof(small));
        if (strstr(small, "s3c")) {
                fprintf(stderr, "FAIL truncated mask leaks: %s\n", small);
                failures++;
        }
        swarm_sha256_hex("", 0, hex);
        if (strcmp(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")) {
                fprintf(stderr, "FAIL sha256(\"\") = %s\n", hex);
                failures++;
        }
        swarm_sha256_hex("abc", 3, hex);
        if (strcmp(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")) {
                fprintf(stderr, "FAIL sha256(\"abc\") = %s\n", hex);
                failures++;
        }
        if (failures)
                return 1;
        printf("ok\n");
        return 0;
}
