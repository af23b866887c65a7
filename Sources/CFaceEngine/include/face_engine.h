// Enface's face engine: dlib's HOG face detector, 5-point landmarks and ResNet descriptor behind
// a plain C interface. An engine is not thread-safe: use each from one thread at a time.

#ifndef ENFACE_FACE_ENGINE_H
#define ENFACE_FACE_ENGINE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct enface_engine enface_engine;

#define ENFACE_DESCRIPTOR_DIMENSION 128

enum enface_image_format { ENFACE_IMAGE_JPEG = 1, ENFACE_IMAGE_PNG = 2 };

enum enface_status {
    ENFACE_OK = 0,
    /// The bytes do not decode as the image they claim to be.
    ENFACE_INVALID_IMAGE = -1,
    /// Anything else dlib threw; the message says what.
    ENFACE_FAILED = -2,
};

typedef struct {
    /// The face's box in the (oriented) photo's pixels.
    float left, top, right, bottom;
    /// The HOG detector's score: real faces were >= 0.6 here, false ones < 0.3.
    float score;
    float descriptor[ENFACE_DESCRIPTOR_DIMENSION];
} enface_face;

typedef struct {
    int width, height;
    double decode_ms, detect_ms, describe_ms;
} enface_report;

/// Loads the two models (about 1-2 s, 62 MB). NULL on failure, with a message in `error`.
enface_engine *enface_engine_create(
    const char *landmarks_path, const char *descriptor_path, char *error, size_t error_capacity);

void enface_engine_destroy(enface_engine *engine);

/// Decodes `bytes`, turns the image upright (EXIF `orientation`, 1-8), finds faces on a copy
/// whose longer side is at most `detect_side` pixels, keeps those scoring at least `min_score`
/// whose box is at least `min_face_side` pixels wide in the photo, and (when `describe`) computes
/// each kept face's descriptor from a 150-pixel aligned chip of the full-resolution photo.
/// Writes up to `capacity` faces, best score first, and returns how many were kept (which may
/// exceed `capacity`), or an `enface_status` below zero with a message in `error`.
int enface_engine_analyze(
    enface_engine *engine, const unsigned char *bytes, size_t length, int format, int orientation,
    int detect_side, double min_score, int min_face_side, int describe,
    enface_face *faces, int capacity, enface_report *report, char *error, size_t error_capacity);

#ifdef __cplusplus
}
#endif

#endif
