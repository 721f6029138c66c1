// The C interface of convkit's Gloo shim (native/comm/gloo_shim/, built into convkit_gloo.so only
// where Debian's libgloo-dev headers exist). The addon never links Gloo: it dlopens the shim at
// run time (gloo_loader.cc), the way cuBLAS is loaded, so the addon builds and loads on machines
// without Gloo and backends() can say why Gloo is unusable. Plain C types only, so that the shim
// and the addon need not agree on a C++ ABI; errors come back as a status and a message written
// into the caller's buffer (no global "last error", so several threads may call at once).
#pragma once
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

// Bumped whenever a signature below changes; the loader refuses a shim of another version.
#define CK_GLOO_ABI 1

enum ck_gloo_status {
  CK_GLOO_OK = 0,
  CK_GLOO_TIMEOUT = 1,  // a peer or the store did not answer within the timeout
  CK_GLOO_IO = 2,       // a connection failed or closed (a peer died)
  CK_GLOO_ARG = 3,      // a bad argument
  CK_GLOO_OTHER = 4,
};

typedef struct ck_gloo_ctx ck_gloo_ctx;

typedef struct ck_gloo_create_args {
  int rank;
  int size;
  const char* store_host;  // the TCP store (lib/parallel/store-server.ts) that carries the rendezvous
  int store_port;
  const char* prefix;    // key prefix of this context's rendezvous in the store
  int timeout_ms;        // the rendezvous: every rank must have joined within it
  int op_timeout_ms;     // every collective: past it a silent peer is an error
  const char* hostname;  // the address this rank's transport listens on ("127.0.0.1", a host name)
} ck_gloo_create_args;

typedef int (*ck_gloo_abi_fn)(void);
typedef const char* (*ck_gloo_version_fn)(void);
// Connects the full mesh (blocks until every rank has joined or the timeout passed).
typedef int (*ck_gloo_create_fn)(const ck_gloo_create_args* args, ck_gloo_ctx** out, char* err, size_t err_len);
// In place, sum over ranks.
typedef int (*ck_gloo_allreduce_f32_fn)(ck_gloo_ctx* ctx, float* data, size_t count, char* err, size_t err_len);
// In place, from `root` to every rank.
typedef int (*ck_gloo_broadcast_f32_fn)(ck_gloo_ctx* ctx, float* data, size_t count, int root, char* err,
                                        size_t err_len);
typedef int (*ck_gloo_barrier_fn)(ck_gloo_ctx* ctx, char* err, size_t err_len);
typedef void (*ck_gloo_destroy_fn)(ck_gloo_ctx* ctx);

int ck_gloo_abi(void);
const char* ck_gloo_version(void);
int ck_gloo_create(const ck_gloo_create_args* args, ck_gloo_ctx** out, char* err, size_t err_len);
int ck_gloo_allreduce_f32(ck_gloo_ctx* ctx, float* data, size_t count, char* err, size_t err_len);
int ck_gloo_broadcast_f32(ck_gloo_ctx* ctx, float* data, size_t count, int root, char* err, size_t err_len);
int ck_gloo_barrier(ck_gloo_ctx* ctx, char* err, size_t err_len);
void ck_gloo_destroy(ck_gloo_ctx* ctx);

#ifdef __cplusplus
}
#endif
