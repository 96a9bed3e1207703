// A fake libnvidia-ml.so for testing the NVML backend through real FFI on machines without a GPU.
// It implements the handful of NVML calls the suite uses; its devices follow a script read at
// nvmlInit_v2 from the file named by FAKE_NVML_SCRIPT:
//
//   count N                  number of devices (default 1)
//   name DEV TEXT            device name
//   energy_start DEV MJ      initial value of the energy counter, in mJ (uint64; may be near 2^64)
//   power DEV FROM_MS MW     power from FROM_MS (ms since init) on, in mW (piecewise constant)
//   init_error CODE          nvmlInit_v2 returns CODE
//   energy_error DEV CODE    nvmlDeviceGetTotalEnergyConsumption returns CODE for DEV
//   power_error DEV CODE     nvmlDeviceGetPowerUsage returns CODE for DEV
//
// The energy counter is the integral of the scripted power since init, wrapping at 2^64 like a
// uint64. Build: cc -shared -fPIC -O2 -o libnvidia-ml.so.1 fake_nvml.c
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_DEVICES 16
#define MAX_SEGMENTS 64

typedef struct {
  char name[96];
  uint64_t energy_start_mj;
  int segments;
  double from_ms[MAX_SEGMENTS];
  double power_mw[MAX_SEGMENTS];
  int energy_error;
  int power_error;
} device_t;

static device_t devices[MAX_DEVICES];
static int device_count = 1;
static int initialized = 0;
static int init_error = 0;
static double t0_ms;

static double now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void load_script(void) {
  memset(devices, 0, sizeof devices);
  device_count = 1;
  init_error = 0;
  for (int i = 0; i < MAX_DEVICES; i++) snprintf(devices[i].name, sizeof devices[i].name, "Fake GPU %d", i);
  const char *path = getenv("FAKE_NVML_SCRIPT");
  if (!path) return;
  FILE *f = fopen(path, "r");
  if (!f) return;
  char line[256];
  while (fgets(line, sizeof line, f)) {
    int dev, code;
    unsigned long long mj;
    double from, mw;
    char text[96];
    if (line[0] == '#') continue;
    if (sscanf(line, "count %d", &device_count) == 1) continue;
    if (sscanf(line, "init_error %d", &init_error) == 1) continue;
    if (sscanf(line, "name %d %95[^\n]", &dev, text) == 2 && dev >= 0 && dev < MAX_DEVICES) {
      snprintf(devices[dev].name, sizeof devices[dev].name, "%s", text);
    } else if (sscanf(line, "energy_start %d %llu", &dev, &mj) == 2 && dev >= 0 && dev < MAX_DEVICES) {
      devices[dev].energy_start_mj = mj;
    } else if (sscanf(line, "power %d %lf %lf", &dev, &from, &mw) == 3 && dev >= 0 && dev < MAX_DEVICES &&
               devices[dev].segments < MAX_SEGMENTS) {
      device_t *d = &devices[dev];
      d->from_ms[d->segments] = from;
      d->power_mw[d->segments] = mw;
      d->segments++;
    } else if (sscanf(line, "energy_error %d %d", &dev, &code) == 2 && dev >= 0 && dev < MAX_DEVICES) {
      devices[dev].energy_error = code;
    } else if (sscanf(line, "power_error %d %d", &dev, &code) == 2 && dev >= 0 && dev < MAX_DEVICES) {
      devices[dev].power_error = code;
    }
  }
  fclose(f);
}

static double power_at(const device_t *d, double t) {
  double p = 0;
  for (int i = 0; i < d->segments; i++) if (d->from_ms[i] <= t) p = d->power_mw[i];
  return p;
}

static uint64_t energy_at(const device_t *d, double t) {
  double mj = 0;
  for (int i = 0; i < d->segments; i++) {
    double start = d->from_ms[i] > 0 ? d->from_ms[i] : 0;
    double end = i + 1 < d->segments ? d->from_ms[i + 1] : t;
    if (end > t) end = t;
    if (end > start) mj += d->power_mw[i] * (end - start) / 1000.0;
  }
  return d->energy_start_mj + (uint64_t)mj; // wraps like the real uint64 counter
}

int nvmlInit_v2(void) {
  load_script();
  if (init_error) return init_error;
  initialized = 1;
  t0_ms = now_ms();
  return 0;
}

int nvmlShutdown(void) {
  if (!initialized) return 1;
  initialized = 0;
  return 0;
}

const char *nvmlErrorString(int code) {
  switch (code) {
    case 0: return "Success";
    case 1: return "Uninitialized";
    case 2: return "Invalid Argument";
    case 3: return "Not Supported";
    case 4: return "Insufficient Permissions";
    case 9: return "Driver Not Loaded";
    case 15: return "GPU is lost";
    case 999: return "Unknown Error";
    default: return "Unknown Error";
  }
}

int nvmlDeviceGetCount_v2(unsigned int *count) {
  if (!initialized) return 1;
  if (!count) return 2;
  *count = (unsigned int)device_count;
  return 0;
}

int nvmlDeviceGetHandleByIndex_v2(unsigned int index, device_t **handle) {
  if (!initialized) return 1;
  if (!handle || index >= (unsigned int)device_count || index >= MAX_DEVICES) return 2;
  *handle = &devices[index];
  return 0;
}

int nvmlDeviceGetName(device_t *handle, char *name, unsigned int length) {
  if (!initialized) return 1;
  if (!handle || !name || length == 0) return 2;
  snprintf(name, length, "%s", handle->name);
  return 0;
}

int nvmlDeviceGetPowerUsage(device_t *handle, unsigned int *mw) {
  if (!initialized) return 1;
  if (!handle || !mw) return 2;
  if (handle->power_error) return handle->power_error;
  *mw = (unsigned int)power_at(handle, now_ms() - t0_ms);
  return 0;
}

int nvmlDeviceGetTotalEnergyConsumption(device_t *handle, unsigned long long *mj) {
  if (!initialized) return 1;
  if (!handle || !mj) return 2;
  if (handle->energy_error) return handle->energy_error;
  *mj = energy_at(handle, now_ms() - t0_ms);
  return 0;
}
