/*  registry_keys — API keys: random, shown once, stored only as their SHA-256.

    A key is "oimk_" + 64 hex digits (32 random bytes from libsodium). Redis keeps
    oim:apikey:<sha256 hex> = ApiKeyRecord (what the gateway reads on every request) and, per
    owner, oim:org:<id>:apikey / oim:publisher:<id>:apikey = the hash of the current key, so a
    rotation or a delete can remove the old record in the same transaction: a revoked key stops
    working with that EXEC.
*/
#include "registry.h"

#include <sodium.h>

void
registry_keys_hash (const char *key, char *hash_hex)
{
    uint8_t digest [crypto_hash_sha256_BYTES];
    crypto_hash_sha256 (digest, (const uint8_t *) key, strlen (key));
    sodium_bin2hex (hash_hex, 2 * crypto_hash_sha256_BYTES + 1, digest, sizeof digest);
}

void
registry_keys_new (char *key, char *hash_hex)
{
    uint8_t random [32];
    randombytes_buf (random, sizeof random);
    memcpy (key, "oimk_", 5);
    sodium_bin2hex (key + 5, 2 * sizeof random + 1, random, sizeof random);
    registry_keys_hash (key, hash_hex);
}

int
registry_keys_lookup (oim_redis_t *redis, const char *key, Oim__V1__ApiKeyRecord **record)
{
    char hash [2 * crypto_hash_sha256_BYTES + 1], redis_key [OIM_KEY_SIZE];
    registry_keys_hash (key, hash);
    snprintf (redis_key, sizeof redis_key, OIM_KEY_APIKEY, hash);
    return registry_store_get (redis, redis_key, &oim__v1__api_key_record__descriptor,
                               (ProtobufCMessage **) record);
}
