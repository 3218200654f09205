/*
 * A reference client of the PyMoDAQ TCP/IP protocol, legacy dialect, in C with BSD sockets only:
 * a GRABBER that answers every "Send Data" with one 2D frame (uint16, big-endian), or an ACTUATOR
 * that moves instantly and reports its position. The shape a LabVIEW "Call Library Function" or a
 * MATLAB MEX user can start from. Protocol reference: docs/protocol.rst.
 *
 *   cc -std=c99 -D_POSIX_C_SOURCE=200809L -O2 -Wall -Wextra -o tcpbridge_client tcpbridge_client.c -lm
 *   ./tcpbridge_client grabber  HOST PORT [ROWS COLS]
 *   ./tcpbridge_client actuator HOST PORT
 *
 * TLS (a plugin with tls_cert / tls_key, and tls_client_ca to require client certificates), with
 * OpenSSL 1.1+: build with -DTCPBRIDGE_TLS ... -lssl -lcrypto, and set TCPBRIDGE_TLS_CA (ca.pem of
 * 'tcpbridge cert': verifies the plugin's certificate and host name), TCPBRIDGE_TLS_CERT and
 * TCPBRIDGE_TLS_KEY (this client's certificate, e.g. instrument.pem / instrument.key). Only the two
 * byte pumps below change: the protocol inside TLS is the same.
 *
 * Every length on the wire is a 4-byte unsigned big-endian integer (htonl); a string is that
 * length and its bytes; a number is its dtype string ('>f8': big-endian double), its size, its
 * bytes. Ctrl+C or SIGTERM: the client sends Quit and closes. Exit code 0 on a clean end, 1 on an
 * error (printed on stderr), 2 on bad arguments.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#ifdef TCPBRIDGE_TLS
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
static SSL *tls = NULL; /* set when TCPBRIDGE_TLS_CA is: every byte then goes through it */
#endif

#define MAX_STRING 65536 /* longest command or XML accepted from the server */

static volatile sig_atomic_t stopping = 0;

static void on_signal(int signum) {
    (void)signum;
    stopping = 1;
}

static int fail(const char *what) {
    fprintf(stderr, "tcpbridge_client: %s\n", what);
    return -1;
}

/* -- sending ------------------------------------------------------------------------------- */

static int send_all(int sock, const void *data, size_t n) {
    const char *p = data;
    while (n > 0) {
#ifdef TCPBRIDGE_TLS
        if (tls != NULL) {
            int wrote = SSL_write(tls, p, n > INT32_MAX ? INT32_MAX : (int)n);
            if (wrote <= 0) return fail("TLS write failed");
            p += wrote;
            n -= (size_t)wrote;
            continue;
        }
#endif
        ssize_t sent = send(sock, p, n, MSG_NOSIGNAL);
        if (sent < 0) {
            if (errno == EINTR) continue;
            return fail(strerror(errno));
        }
        p += sent;
        n -= (size_t)sent;
    }
    return 0;
}

static int send_u32(int sock, uint32_t value) {
    uint32_t be = htonl(value);
    return send_all(sock, &be, 4);
}

static int send_str(int sock, const char *text) {
    size_t n = strlen(text);
    return send_u32(sock, (uint32_t)n) || send_all(sock, text, n);
}

/* SCALAR of dtype '>f8': the dtype string, 8, the double's bytes most significant first */
static int send_f8(int sock, double value) {
    uint64_t bits;
    unsigned char be[8];
    memcpy(&bits, &value, 8);
    for (int i = 0; i < 8; i++) be[i] = (unsigned char)(bits >> (56 - 8 * i));
    return send_str(sock, ">f8") || send_u32(sock, 8) || send_all(sock, be, 8);
}

/* -- receiving ----------------------------------------------------------------------------- */

static int recv_all(int sock, void *data, size_t n) {
    char *p = data;
    while (n > 0) {
#ifdef TCPBRIDGE_TLS
        if (tls != NULL) {
            int read = SSL_read(tls, p, n > INT32_MAX ? INT32_MAX : (int)n);
            if (read <= 0) return stopping ? -1 : fail("the server closed the TLS connection");
            p += read;
            n -= (size_t)read;
            continue;
        }
#endif
        ssize_t got = recv(sock, p, n, 0);
        if (got == 0) return fail("the server closed the connection");
        if (got < 0) {
            if (errno == EINTR && !stopping) continue;
            return stopping ? -1 : fail(strerror(errno));
        }
        p += got;
        n -= (size_t)got;
    }
    return 0;
}

static int recv_u32(int sock, uint32_t *value) {
    uint32_t be;
    if (recv_all(sock, &be, 4)) return -1;
    *value = ntohl(be);
    return 0;
}

/* a STR into a malloc'ed, NUL-terminated buffer; the length is checked before allocating */
static int recv_str(int sock, char **text) {
    uint32_t n;
    if (recv_u32(sock, &n)) return -1;
    if (n > MAX_STRING) return fail("string longer than MAX_STRING announced: protocol error");
    *text = malloc(n + 1);
    if (*text == NULL) return fail("out of memory");
    if (recv_all(sock, *text, n)) {
        free(*text);
        return -1;
    }
    (*text)[n] = '\0';
    return 0;
}

/* a SCALAR sent by the server (a move target) as a double: '<f8', '>f8', '<i8', '<i4' */
static int recv_position(int sock, double *value) {
    char *dtype;
    uint32_t n;
    unsigned char raw[8];
    if (recv_str(sock, &dtype)) return -1;
    if (recv_u32(sock, &n) || n > 8 || recv_all(sock, raw, n)) {
        free(dtype);
        return fail("bad scalar");
    }
    int little = dtype[0] == '<' || dtype[0] == '|' || dtype[0] == '=';
    uint64_t bits = 0;
    for (uint32_t i = 0; i < n; i++) bits |= (uint64_t)raw[little ? i : n - 1 - i] << (8 * i);
    int ok = 1;
    if (strcmp(dtype + 1, "f8") == 0 && n == 8) memcpy(value, &bits, 8);
    else if (strcmp(dtype + 1, "i8") == 0 && n == 8) *value = (double)(int64_t)bits;
    else if (strcmp(dtype + 1, "i4") == 0 && n == 4) *value = (double)(int32_t)(uint32_t)bits;
    else ok = 0;
    free(dtype);
    return ok ? 0 : fail("position of an unsupported dtype");
}

/* set_info payload: LIST of 'string' items (the path) + STR(xml of one parameter); printed */
static int recv_set_info(int sock) {
    uint32_t count;
    if (recv_u32(sock, &count) || count > 64) return fail("bad set_info path");
    printf("set_info");
    for (uint32_t i = 0; i < count; i++) {
        char *tag, *item;
        if (recv_str(sock, &tag)) return -1;
        int is_string = strcmp(tag, "string") == 0;
        free(tag);
        if (!is_string || recv_str(sock, &item)) return fail("bad set_info path item");
        printf(" %s", item);
        free(item);
    }
    char *xml;
    if (recv_str(sock, &xml)) return -1;
    printf(" = %s\n", xml);
    fflush(stdout);
    free(xml);
    return 0;
}

/* -- the two roles ------------------------------------------------------------------------- */

/* 'Done' + LIST(1) + 'array' + NDARRAY('>u2', rows x cols): a gaussian spot, the frame number added */
static int send_frame(int sock, uint32_t rows, uint32_t cols, unsigned frame) {
    size_t n = (size_t)rows * cols;
    unsigned char *data = malloc(2 * n);
    if (data == NULL) return fail("out of memory");
    for (uint32_t r = 0; r < rows; r++) {
        for (uint32_t c = 0; c < cols; c++) {
            double y = (r - rows / 2.0) / (rows / 8.0), x = (c - cols / 2.0) / (cols / 8.0);
            unsigned v = (unsigned)(1000.0 * exp(-0.5 * (x * x + y * y))) + frame % 100;
            data[2 * ((size_t)r * cols + c)] = (unsigned char)(v >> 8);
            data[2 * ((size_t)r * cols + c) + 1] = (unsigned char)(v & 0xff);
        }
    }
    int error = send_str(sock, "Done") || send_u32(sock, 1) || send_str(sock, "array") ||
                send_str(sock, ">u2") || send_u32(sock, (uint32_t)(2 * n)) || send_u32(sock, 2) ||
                send_u32(sock, rows) || send_u32(sock, cols) || send_all(sock, data, 2 * n);
    free(data);
    return error ? -1 : 0;
}

static int run_grabber(int sock, uint32_t rows, uint32_t cols) {
    const char *settings = "<detector_settings type=\"group\" title=\"C camera\">"
                           "<exposure type=\"float\" title=\"Exposure (ms):\">10.0</exposure>"
                           "</detector_settings>";
    if (send_str(sock, "GRABBER") || send_str(sock, "Infos") || send_str(sock, settings)) return -1;
    for (unsigned frame = 0; !stopping; frame++) {
        char *command;
        if (recv_str(sock, &command)) return stopping ? 0 : -1;
        int error = 0;
        if (strncmp(command, "Send Data ", 10) == 0) error = send_frame(sock, rows, cols, frame);
        else if (strcmp(command, "set_info") == 0) error = recv_set_info(sock);
        else error = fail("unknown command: the stream cannot be followed any further");
        free(command);
        if (error) return -1;
    }
    return 0;
}

static int run_actuator(int sock) {
    const char *settings = "<move_settings type=\"group\" title=\"C stage\">"
                           "<units type=\"str\" title=\"Units:\">mm</units></move_settings>";
    double position = 0.0, target;
    if (send_str(sock, "ACTUATOR") || send_str(sock, "Infos") || send_str(sock, settings)) return -1;
    while (!stopping) {
        char *command;
        if (recv_str(sock, &command)) return stopping ? 0 : -1;
        int error = 0;
        if (strcmp(command, "check_position") == 0 || strcmp(command, "get_actuator_value") == 0) {
            error = send_str(sock, "position_is") || send_f8(sock, position);
        } else if (strcmp(command, "move_abs") == 0 || strcmp(command, "move_rel") == 0) {
            error = recv_position(sock, &target);
            if (!error) position = command[5] == 'a' ? target : position + target;
            error = error || send_str(sock, "move_done") || send_f8(sock, position);
        } else if (strcmp(command, "move_home") == 0) {
            position = 0.0;
            error = send_str(sock, "move_done") || send_f8(sock, position);
        } else if (strcmp(command, "stop_motion") == 0) {
            error = send_str(sock, "move_done") || send_f8(sock, position);
        } else if (strcmp(command, "set_info") == 0) {
            error = recv_set_info(sock);
        } else {
            error = fail("unknown command: the stream cannot be followed any further");
        }
        free(command);
        if (error) return -1;
    }
    return 0;
}

static int connect_to(const char *host, const char *port) {
    struct addrinfo hints = {0}, *found, *a;
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int status = getaddrinfo(host, port, &hints, &found);
    if (status != 0) {
        fprintf(stderr, "tcpbridge_client: %s: %s\n", host, gai_strerror(status));
        return -1;
    }
    int sock = -1;
    for (a = found; a != NULL && sock < 0; a = a->ai_next) {
        sock = socket(a->ai_family, a->ai_socktype, a->ai_protocol);
        if (sock >= 0 && connect(sock, a->ai_addr, a->ai_addrlen) != 0) {
            close(sock);
            sock = -1;
        }
    }
    freeaddrinfo(found);
    if (sock < 0) fprintf(stderr, "tcpbridge_client: cannot connect to %s:%s\n", host, port);
    return sock;
}

#ifdef TCPBRIDGE_TLS
/* TLS 1.2+ over the connected socket: the plugin's certificate must chain to ca and name host. */
static int start_tls(int sock, const char *host, const char *ca, const char *cert, const char *key) {
    SSL_CTX *context = SSL_CTX_new(TLS_client_method());
    if (context == NULL || !SSL_CTX_set_min_proto_version(context, TLS1_2_VERSION)) return fail("no TLS context");
    SSL_CTX_set_verify(context, SSL_VERIFY_PEER, NULL);
    if (SSL_CTX_load_verify_locations(context, ca, NULL) != 1) return fail("cannot read TCPBRIDGE_TLS_CA");
    if (cert != NULL && (SSL_CTX_use_certificate_chain_file(context, cert) != 1 ||
                         SSL_CTX_use_PrivateKey_file(context, key ? key : cert, SSL_FILETYPE_PEM) != 1))
        return fail("cannot read TCPBRIDGE_TLS_CERT / TCPBRIDGE_TLS_KEY");
    tls = SSL_new(context);
    SSL_CTX_free(context); /* the connection keeps its own reference */
    X509_VERIFY_PARAM *check = SSL_get0_param(tls);
    if (X509_VERIFY_PARAM_set1_ip_asc(check, host) != 1) X509_VERIFY_PARAM_set1_host(check, host, 0);
    SSL_set_tlsext_host_name(tls, host);
    SSL_set_fd(tls, sock);
    if (SSL_connect(tls) != 1) {
        long verified = SSL_get_verify_result(tls);
        fprintf(stderr, "tcpbridge_client: TLS handshake failed: %s\n",
                verified != X509_V_OK ? X509_verify_cert_error_string(verified) : "see the plugin status");
        return -1;
    }
    return 0;
}
#endif

int main(int argc, char **argv) {
    if (argc < 4 || (strcmp(argv[1], "grabber") != 0 && strcmp(argv[1], "actuator") != 0)) {
        fprintf(stderr, "usage: %s grabber|actuator HOST PORT [ROWS COLS]\n", argv[0]);
        return 2;
    }
    uint32_t rows = argc > 5 ? (uint32_t)atoi(argv[4]) : 64, cols = argc > 5 ? (uint32_t)atoi(argv[5]) : 80;
    if (rows == 0 || cols == 0 || rows > 8192 || cols > 8192) {
        fprintf(stderr, "tcpbridge_client: ROWS and COLS must be 1..8192\n");
        return 2;
    }
    struct sigaction action = {0};
    action.sa_handler = on_signal; /* no SA_RESTART: a blocked recv returns EINTR */
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    int sock = connect_to(argv[2], argv[3]);
    if (sock < 0) return 1;
#ifdef TCPBRIDGE_TLS
    const char *ca = getenv("TCPBRIDGE_TLS_CA");
    if (ca != NULL && start_tls(sock, argv[2], ca, getenv("TCPBRIDGE_TLS_CERT"), getenv("TCPBRIDGE_TLS_KEY")) != 0)
        return 1;
#endif
    printf("connected to %s:%s as %s\n", argv[2], argv[3], argv[1]);
    fflush(stdout);
    int error = strcmp(argv[1], "grabber") == 0 ? run_grabber(sock, rows, cols) : run_actuator(sock);
    if (stopping) send_str(sock, "Quit");
#ifdef TCPBRIDGE_TLS
    if (tls != NULL) {
        SSL_shutdown(tls);
        SSL_free(tls);
    }
#endif
    close(sock);
    printf("%s\n", error ? "stopped on an error" : "stopped");
    return error ? 1 : 0;
}
