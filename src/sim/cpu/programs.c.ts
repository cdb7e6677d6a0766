// C source of the differential program test (programs.test.ts): every function writes its results
// as text into a buffer; the simulated CPU and the host CPU must produce the same text.
export const PROGRAM = String.raw`
typedef unsigned long long u64; typedef long long s64; typedef unsigned int u32; typedef int s32;
typedef unsigned short u16; typedef short s16; typedef unsigned char u8; typedef signed char s8;
typedef unsigned long size_t;
#define NI __attribute__((noinline))

static char *o;
static void put(const char *s) { while (*s) *o++ = *s++; }
static void hex(u64 v) {
  char t[17]; int i = 16; t[16] = 0;
  do { t[--i] = "0123456789abcdef"[v & 15]; v >>= 4; } while (v);
  put(t + i);
}
static void line(const char *name, u64 a, u64 b, u64 r) {
  put(name); *o++ = ' '; hex(a); *o++ = ' '; hex(b); *o++ = ' '; hex(r); *o++ = '\n';
}

/* ---- arithmetic: all defined behaviour (unsigned wrap, guarded division, masked shifts) ---- */
NI u64 f_add(u64 a, u64 b) { return a + b; }
NI u64 f_sub(u64 a, u64 b) { return a - b; }
NI u64 f_mul(u64 a, u64 b) { return a * b; }
NI u64 f_mul32(u64 a, u64 b) { return (u32)a * (u32)b; }
NI u64 f_smul32(u64 a, u64 b) { return (u64)((s64)(s32)a * (s32)b); }
NI u64 f_mulhi(u64 a, u64 b) { return (u64)(((unsigned __int128)a * b) >> 64); }
NI u64 f_smulhi(u64 a, u64 b) { return (u64)(((__int128)(s64)a * (s64)b) >> 64); }
NI u64 f_udiv(u64 a, u64 b) { return b ? a / b : 0; }
NI u64 f_umod(u64 a, u64 b) { return b ? a % b : 0; }
NI u64 f_sdiv(u64 a, u64 b) { s64 x = a, y = b; return (y == 0 || (x == (s64)0x8000000000000000ULL && y == -1)) ? 0 : (u64)(x / y); }
NI u64 f_smod(u64 a, u64 b) { s64 x = a, y = b; return (y == 0 || y == -1) ? 0 : (u64)(x % y); }
NI u64 f_udiv32(u64 a, u64 b) { return (u32)b ? (u32)a / (u32)b : 0; }
NI u64 f_sdiv32(u64 a, u64 b) { s32 x = a, y = b; return (y == 0 || y == -1) ? 0 : (u64)(s64)(x / y); }
NI u64 f_smod16(u64 a, u64 b) { s16 x = a, y = b; return y == 0 ? 0 : (u64)(s64)(s16)(x % y); }
NI u64 f_udiv8(u64 a, u64 b) { return (u8)b ? (u8)a / (u8)b : 0; }
NI u64 f_div7(u64 a, u64 b) { return a / 7 + (b % 10); }
NI u64 f_sdiv10(u64 a, u64 b) { return (u64)((s64)a / 10) ^ (u64)((s32)b / 1000); }
NI u64 f_shl(u64 a, u64 b) { return a << (b & 63); }
NI u64 f_shr(u64 a, u64 b) { return a >> (b & 63); }
NI u64 f_sar(u64 a, u64 b) { return (u64)((s64)a >> (b & 63)); }
NI u64 f_shl32(u64 a, u64 b) { return (u32)a << (b & 31); }
NI u64 f_sar32(u64 a, u64 b) { return (u64)(s64)((s32)a >> (b & 31)); }
NI u64 f_sar8(u64 a, u64 b) { return (u64)(s64)((s8)a >> (b & 7)); }
NI u64 f_rotl(u64 a, u64 b) { return (a << (b & 63)) | (a >> (-b & 63)); }
NI u64 f_rotr32(u64 a, u64 b) { u32 x = a; return (x >> (b & 31)) | (x << (-b & 31)); }
NI u64 f_add_ovf(u64 a, u64 b) { s64 r; return __builtin_add_overflow((s64)a, (s64)b, &r) ? 1 : (u64)r << 1; }
NI u64 f_sub_ovf32(u64 a, u64 b) { s32 r; return __builtin_sub_overflow((s32)a, (s32)b, &r) ? 1 : (u64)(u32)r << 1; }
NI u64 f_mul_ovf(u64 a, u64 b) { u64 r; return __builtin_mul_overflow(a, b, &r) ? 1 : r << 1; }
NI u64 f_smul_ovf(u64 a, u64 b) { s64 r; return __builtin_mul_overflow((s64)a, (s64)b, &r) ? 1 : (u64)r << 1; }
NI u64 f_cmp(u64 a, u64 b) {
  return ((s64)a < (s64)b) | (a < b) << 1 | ((s32)a < (s32)b) << 2 | ((u8)a > (u8)b) << 3 | ((s16)a >= (s16)b) << 4
    | (a == b) << 5 | ((s8)a <= (s8)b) << 6 | ((u32)a >= (u32)b) << 7;
}
NI u64 f_minmax(u64 a, u64 b) { s64 x = a, y = b; return (u64)(x < y ? x : y) ^ ((a > b ? a : b) << 1); }
NI u64 f_bits(u64 a, u64 b) {
  return (u64)(a ? __builtin_ctzll(a) : 99) | (u64)(b ? __builtin_clzll(b) : 99) << 8 | (u64)((u32)a ? __builtin_ctz((u32)a) : 99) << 16
    | (u64)__builtin_parityll(a ^ b) << 24 | (u64)__builtin_ffsll(b) << 32;
}
NI u64 f_bswap(u64 a, u64 b) { return __builtin_bswap64(a) ^ __builtin_bswap32((u32)b) ^ __builtin_bswap16((u16)a); }
NI u64 f_ext(u64 a, u64 b) { return (u64)((s64)(s8)a + (s64)(s16)b + (s64)(s32)a) ^ ((u64)(u8)a * (u16)b + (u32)a); }
NI u64 f_add128(u64 a, u64 b) { unsigned __int128 x = ((unsigned __int128)a << 64) | b; x += ((unsigned __int128)b << 64) | a; return (u64)(x >> 64) ^ (u64)x; }
NI u64 f_sub128(u64 a, u64 b) { unsigned __int128 x = ((unsigned __int128)a << 64) | b; x -= ((unsigned __int128)b << 64) | a; return (u64)(x >> 64) ^ ((u64)x << 1); }
NI u64 f_abs(u64 a, u64 b) { s64 x = a; return (x < 0 ? -(u64)x : (u64)x) + ((s64)b > 0) - ((s64)b < 0); }
NI u64 f_bitfield(u64 a, u64 b) {
  struct { u64 x : 3, y : 17, z : 31, w : 13; } s = { 0 };
  s.x = a; s.y = b; s.z = a >> 7; s.w = b >> 3;
  s.y += s.x; s.z ^= s.w;
  return (u64)s.x | (u64)s.y << 3 | (u64)s.z << 20 | (u64)s.w << 51;
}
NI u64 f_mix(u64 a, u64 b) {
  u64 h = a ^ 0x9e3779b97f4a7c15ULL;
  for (int i = 0; i < 4; i++) { h ^= h >> 31; h *= 0xbf58476d1ce4e5b9ULL; h += b; h = (h << 13) | (h >> 51); }
  return h;
}

typedef u64 (*binop)(u64, u64);
static const struct { const char *name; binop f; } OPS[] = {
  {"add", f_add}, {"sub", f_sub}, {"mul", f_mul}, {"mul32", f_mul32}, {"smul32", f_smul32}, {"mulhi", f_mulhi},
  {"smulhi", f_smulhi}, {"udiv", f_udiv}, {"umod", f_umod}, {"sdiv", f_sdiv}, {"smod", f_smod}, {"udiv32", f_udiv32},
  {"sdiv32", f_sdiv32}, {"smod16", f_smod16}, {"udiv8", f_udiv8}, {"div7", f_div7}, {"sdiv10", f_sdiv10}, {"shl", f_shl},
  {"shr", f_shr}, {"sar", f_sar}, {"shl32", f_shl32}, {"sar32", f_sar32}, {"sar8", f_sar8}, {"rotl", f_rotl},
  {"rotr32", f_rotr32}, {"add_ovf", f_add_ovf}, {"sub_ovf32", f_sub_ovf32}, {"mul_ovf", f_mul_ovf},
  {"smul_ovf", f_smul_ovf}, {"cmp", f_cmp}, {"minmax", f_minmax}, {"bits", f_bits}, {"bswap", f_bswap}, {"ext", f_ext},
  {"add128", f_add128}, {"sub128", f_sub128}, {"abs", f_abs}, {"bitfield", f_bitfield}, {"mix", f_mix},
};
static const u64 V[] = {
  0, 1, 2, 3, 7, 10, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000ULL,
  0x7fffffffffffffffULL, 0x8000000000000000ULL, 0xffffffffffffffffULL, 0xfffffffffffffff9ULL, 0x123456789abcdef0ULL,
  0xfedcba9876543210ULL, 12345678901234ULL, 0xffffffff80000000ULL,
};

NI void arithmetic(void) {
  for (unsigned k = 0; k < sizeof OPS / sizeof OPS[0]; k++)
    for (unsigned i = 0; i < sizeof V / sizeof V[0]; i++)
      for (unsigned j = 0; j < sizeof V / sizeof V[0]; j++)
        line(OPS[k].name, V[i], V[j], OPS[k].f(V[i], V[j]));
}

/* ---- control flow ---- */
NI long fib(int n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
NI u64 ackermann(u64 m, u64 n) { return m == 0 ? n + 1 : n == 0 ? ackermann(m - 1, 1) : ackermann(m - 1, ackermann(m, n - 1)); }
NI u64 collatz(u64 n) { u64 s = 0; while (n != 1) { n = n & 1 ? 3 * n + 1 : n / 2; s++; } return s; }
NI int dense_switch(int x, int y) {
  switch (x) {
  case 0: return y + 1; case 1: return y * 3; case 2: return y - 7; case 3: return y << 2; case 4: return y ^ 0x55;
  case 5: return -y; case 6: return y / 3; case 7: return y % 11; case 8: return y | 0x100; case 9: return y & 0xf0;
  case 10: return y + 1000; case 11: return ~y; case 12: return y * y; case 13: return y >> 1; default: return 42;
  }
}
NI const char *sparse_switch(int x) {
  switch (x) { case -5: return "m5"; case 3: return "three"; case 100: return "hundred"; case 1000: return "k"; case 65536: return "64k"; default: return "other"; }
}
static int dbl(int x) { return 2 * x; } static int neg(int x) { return -x; } static int sq(int x) { return x * x; }
static int (*const table[])(int) = { dbl, neg, sq };
NI int indirect(int i, int x) { return table[i % 3](x); }
NI u64 nested_loops(int n) { u64 s = 0; for (int i = 0; i < n; i++) for (int j = i; j < n; j++) s += (u64)i * j ^ (s >> 3); return s; }

/* ---- memory: rep string instructions as the kernel's string functions use them ---- */
NI void *rep_memcpy(void *d, const void *s, size_t n) { void *r = d; asm volatile("rep movsb" : "+D"(d), "+S"(s), "+c"(n) : : "memory"); return r; }
NI void *rep_memcpy_q(void *d, const void *s, size_t n) {
  void *r = d; size_t q = n >> 3, b = n & 7;
  asm volatile("rep movsq\n\tmovq %3, %%rcx\n\trep movsb" : "+D"(d), "+S"(s), "+c"(q) : "r"(b) : "memory");
  return r;
}
NI void *rep_memset(void *d, int c, size_t n) { void *r = d; asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(c) : "memory"); return r; }
NI void *rep_memset_q(void *d, u64 v, size_t n) { void *r = d; asm volatile("rep stosq" : "+D"(d), "+c"(n) : "a"(v) : "memory"); return r; }
NI void *rep_memmove_back(void *d, const void *s, size_t n) {
  void *r = d;
  if (n) { d = (char *)d + n - 1; s = (const char *)s + n - 1; asm volatile("std\n\trep movsb\n\tcld" : "+D"(d), "+S"(s), "+c"(n) : : "memory"); }
  return r;
}
NI size_t rep_strlen(const char *s) { size_t n = ~0UL; asm volatile("repne scasb" : "+D"(s), "+c"(n) : "a"(0) : "memory"); return ~n - 1; }
NI int rep_memcmp(const void *a, const void *b, size_t n) {
  if (!n) return 0;
  asm volatile("repe cmpsb" : "+S"(a), "+D"(b), "+c"(n) : : "memory", "cc");
  return ((const u8 *)a)[-1] - ((const u8 *)b)[-1];
}
NI u64 lods_sum(const u32 *p, size_t n) { u64 s = 0; u32 v; while (n--) { asm volatile("lodsl" : "=a"(v), "+S"(p) : : "memory"); s += v; } return s; }
NI size_t my_strlen(const char *s) { size_t n = 0; while (s[n]) n++; return n; }
NI char *my_strcpy(char *d, const char *s) { char *r = d; while ((*d++ = *s++)); return r; }
NI int my_strcmp(const char *a, const char *b) { while (*a && *a == *b) a++, b++; return (u8)*a - (u8)*b; }
NI const char *my_strchr(const char *s, int c) { for (; *s; s++) if (*s == c) return s; return 0; }
NI void reverse(char *s) { size_t n = my_strlen(s); for (size_t i = 0; i < n / 2; i++) { char t = s[i]; s[i] = s[n - 1 - i]; s[n - 1 - i] = t; } }
NI long my_atoi(const char *s) { long v = 0; int neg = *s == '-'; if (neg) s++; while (*s >= '0' && *s <= '9') v = v * 10 + (*s++ - '0'); return neg ? -v : v; }
NI int utoa(u64 v, char *buf) { char t[24]; int n = 0; do { t[n++] = '0' + v % 10; v /= 10; } while (v); for (int i = 0; i < n; i++) buf[i] = t[n - 1 - i]; buf[n] = 0; return n; }

struct big { long a[20]; int b; char c[13]; short d; };
NI void copy_big(struct big *d, const struct big *s) { *d = *s; }
NI struct big make_big(int seed) { struct big b; for (int i = 0; i < 20; i++) b.a[i] = seed * i - 7; b.b = seed; for (int i = 0; i < 13; i++) b.c[i] = 'a' + (seed + i) % 26; b.d = -seed; return b; }
NI u64 sum_big(const struct big *b) { u64 s = 0; for (int i = 0; i < 20; i++) s = s * 31 + (u64)b->a[i]; for (int i = 0; i < 13; i++) s += (u64)b->c[i] << (i % 8); return s + (u64)b->b + (u64)(s64)b->d; }

static u8 bufa[600], bufb[600];
NI void memory(void) {
  for (int i = 0; i < 600; i++) bufa[i] = (u8)(i * 7 + 3);
  rep_memcpy(bufb, bufa, 517); line("memcpy", 517, bufb[0] + bufb[516], bufb[517]);
  rep_memset(bufb, 0xa5, 300); line("memset", bufb[299], bufb[300], bufb[0]);
  rep_memcpy_q(bufb + 3, bufa + 1, 211); line("memcpy_q", bufb[3], bufb[213], bufb[214]);
  rep_memset_q(bufb, 0x0102030405060708ULL, 10); line("memset_q", bufb[0], bufb[79], bufb[80]);
  rep_memcpy(bufb, bufa, 100); rep_memmove_back(bufb + 10, bufb, 50); line("memmove", bufb[10], bufb[59], bufb[60]);
  { u64 s = 0; for (int i = 0; i < 100; i++) s = s * 131 + bufb[i]; line("memmove_sum", 0, 0, s); }
  line("strlen", rep_strlen("hello, kernel"), rep_strlen(""), my_strlen("abc"));
  line("memcmp", (u64)(s64)rep_memcmp("abcdef", "abcxef", 6), (u64)(s64)rep_memcmp("abc", "abc", 3), (u64)(s64)rep_memcmp("b", "a", 1));
  { u32 w[5] = { 1, 0xffffffff, 3, 0x80000000, 5 }; line("lods", 0, 0, lods_sum(w, 5)); }
  { char s[64]; my_strcpy(s, "The quick brown fox"); reverse(s); put(s); *o++ = '\n'; line("strcmp", (u64)(s64)my_strcmp("abc", "abd"), (u64)(s64)my_strcmp("x", "x"), (u64)(s64)my_strcmp("\xff", "a")); }
  line("strchr", my_strchr("find the x here", 'x') - (const char *)0 != 0, (u64)(my_strchr("abc", 'q') == 0), 0);
  line("atoi", (u64)my_atoi("-9223372036854775807"), (u64)my_atoi("12345"), (u64)my_atoi("0"));
  { char b[32]; int n = utoa(18446744073709551615ULL, b); put(b); *o++ = ' '; hex(n); *o++ = '\n'; }
  { struct big x = make_big(5), y; copy_big(&y, &x); y.a[19]++; line("struct", sum_big(&x), sum_big(&y), sizeof(struct big)); }
}

NI void control(void) {
  line("fib", 20, 0, fib(20));
  line("ackermann", 2, 3, ackermann(2, 3));
  for (u64 n = 1; n < 30; n += 7) line("collatz", n, 0, collatz(n));
  line("collatz", 27, 0, collatz(27));
  for (int x = -1; x < 16; x++) line("dense", (u64)x, 9, (u64)(s64)dense_switch(x, 9));
  for (int x = 1; x < 70000; x = x * 3 + 8) { put(sparse_switch(x)); *o++ = '\n'; }
  put(sparse_switch(-5)); put(sparse_switch(3)); put(sparse_switch(100)); put(sparse_switch(1000)); put(sparse_switch(65536)); *o++ = '\n';
  for (int i = 0; i < 7; i++) line("indirect", i, 11, (u64)(s64)indirect(i, 11));
  line("nested", 50, 0, nested_loops(50));
}

int run_all(char *buf) { o = buf; arithmetic(); control(); memory(); return o - buf; }
`
