// dlib behind face_engine.h. The network below is dlib's own definition of the ResNet that
// dlib_face_recognition_resnet_model_v1.dat was trained as (dnn_face_recognition_ex.cpp).

#include "face_engine.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <string>
#include <vector>

#include <dlib/dnn.h>
#include <dlib/image_io.h>
#include <dlib/image_processing.h>
#include <dlib/image_processing/frontal_face_detector.h>
#include <dlib/image_transforms.h>

namespace {

using namespace dlib;

template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual = add_prev1<block<N, BN, 1, tag1<SUBNET>>>;

template <template <int, template <typename> class, int, typename> class block, int N,
          template <typename> class BN, typename SUBNET>
using residual_down = add_prev2<avg_pool<2, 2, 2, 2, skip1<tag2<block<N, BN, 2, tag1<SUBNET>>>>>>;

template <int N, template <typename> class BN, int stride, typename SUBNET>
using block = BN<con<N, 3, 3, 1, 1, relu<BN<con<N, 3, 3, stride, stride, SUBNET>>>>>;

template <int N, typename SUBNET> using ares = relu<residual<block, N, affine, SUBNET>>;
template <int N, typename SUBNET> using ares_down = relu<residual_down<block, N, affine, SUBNET>>;

template <typename SUBNET> using alevel0 = ares_down<256, SUBNET>;
template <typename SUBNET> using alevel1 = ares<256, ares<256, ares_down<256, SUBNET>>>;
template <typename SUBNET> using alevel2 = ares<128, ares<128, ares_down<128, SUBNET>>>;
template <typename SUBNET> using alevel3 = ares<64, ares<64, ares<64, ares_down<64, SUBNET>>>>;
template <typename SUBNET> using alevel4 = ares<32, ares<32, ares<32, SUBNET>>>;

using descriptor_net = loss_metric<fc_no_bias<128, avg_pool_everything<
    alevel0<alevel1<alevel2<alevel3<alevel4<
    max_pool<3, 3, 2, 2, relu<affine<con<32, 7, 7, 2, 2, input_rgb_image_sized<150>>>>>>>>>>>>>;

using image = matrix<rgb_pixel>;
using clock_type = std::chrono::steady_clock;

double since(clock_type::time_point start) {
    return std::chrono::duration<double, std::milli>(clock_type::now() - start).count();
}

void say(char *error, size_t capacity, const std::string &message) {
    if (error && capacity > 0) std::snprintf(error, capacity, "%s", message.c_str());
}

/// The photo as its EXIF orientation (2-8) says it was meant to be seen.
image upright(const image &in, int orientation) {
    const long rows = in.nr(), cols = in.nc();
    const bool transposed = orientation >= 5;
    image out(transposed ? cols : rows, transposed ? rows : cols);
    for (long r = 0; r < out.nr(); ++r) {
        for (long c = 0; c < out.nc(); ++c) {
            long sr = r, sc = c;
            switch (orientation) {
            case 2: sc = cols - 1 - c; break;                      // mirrored
            case 3: sr = rows - 1 - r; sc = cols - 1 - c; break;   // 180°
            case 4: sr = rows - 1 - r; break;                      // mirrored vertically
            case 5: sr = c; sc = r; break;                         // transposed
            case 6: sr = rows - 1 - c; sc = r; break;              // 90° clockwise to view
            case 7: sr = rows - 1 - c; sc = cols - 1 - r; break;   // transversed
            case 8: sr = c; sc = cols - 1 - r; break;              // 90° counter-clockwise to view
            }
            out(r, c) = in(sr, sc);
        }
    }
    return out;
}

}  // namespace

struct enface_engine {
    frontal_face_detector detector = get_frontal_face_detector();
    shape_predictor landmarks;
    descriptor_net net;
};

extern "C" enface_engine *enface_engine_create(
    const char *landmarks_path, const char *descriptor_path, char *error, size_t error_capacity) {
    try {
        auto engine = new enface_engine();
        deserialize(landmarks_path) >> engine->landmarks;
        deserialize(descriptor_path) >> engine->net;
        return engine;
    } catch (const std::exception &e) {
        say(error, error_capacity, e.what());
        return nullptr;
    }
}

extern "C" void enface_engine_destroy(enface_engine *engine) { delete engine; }

extern "C" int enface_engine_analyze(
    enface_engine *engine, const unsigned char *bytes, size_t length, int format, int orientation,
    int detect_side, double min_score, int min_face_side, int describe,
    enface_face *faces, int capacity, enface_report *report, char *error, size_t error_capacity) {
    enface_report ignored;
    if (!report) report = &ignored;
    *report = enface_report{};
    image photo;
    auto started = clock_type::now();
    try {
        image stored;
        if (format == ENFACE_IMAGE_JPEG) load_jpeg(stored, bytes, length);
        else if (format == ENFACE_IMAGE_PNG) load_png(stored, bytes, length);
        else { say(error, error_capacity, "unknown image format"); return ENFACE_INVALID_IMAGE; }
        if (orientation >= 2 && orientation <= 8) photo = upright(stored, orientation);
        else photo.swap(stored);
    } catch (const std::exception &e) {
        say(error, error_capacity, e.what());
        return ENFACE_INVALID_IMAGE;
    }
    report->width = int(photo.nc());
    report->height = int(photo.nr());
    report->decode_ms = since(started);
    if (photo.size() == 0) { say(error, error_capacity, "the image has no pixels"); return ENFACE_INVALID_IMAGE; }

    try {
        started = clock_type::now();
        // HOG on a downscaled copy: time grows with pixels, and faces stay findable at ~800 px.
        const long longer = std::max(photo.nr(), photo.nc());
        const double scale = (detect_side > 0 && longer > detect_side) ? double(detect_side) / double(longer) : 1.0;
        std::vector<rect_detection> found;
        if (scale < 1.0) {
            // At least one pixel a side: a long, thin photo must not shrink to nothing.
            image small(std::max(1L, long(photo.nr() * scale + 0.5)), std::max(1L, long(photo.nc() * scale + 0.5)));
            resize_image(photo, small);
            engine->detector(small, found, 0.0);
        } else {
            engine->detector(photo, found, 0.0);
        }
        std::vector<std::pair<double, rectangle>> kept;
        for (const auto &detection : found) {
            const rectangle box(
                long(detection.rect.left() / scale), long(detection.rect.top() / scale),
                long(detection.rect.right() / scale), long(detection.rect.bottom() / scale));
            if (detection.detection_confidence < min_score || long(box.width()) < min_face_side) continue;
            kept.emplace_back(detection.detection_confidence, box);
        }
        std::sort(kept.begin(), kept.end(), [](const auto &a, const auto &b) { return a.first > b.first; });
        report->detect_ms = since(started);

        started = clock_type::now();
        const int written = std::min<int>(capacity, int(kept.size()));
        for (int i = 0; i < written; ++i) {
            const rectangle &box = kept[i].second;
            enface_face &face = faces[i];
            face.left = float(box.left());
            face.top = float(box.top());
            face.right = float(box.right());
            face.bottom = float(box.bottom());
            face.score = float(kept[i].first);
            std::fill(std::begin(face.descriptor), std::end(face.descriptor), 0.0f);
            if (!describe) continue;
            const full_object_detection shape = engine->landmarks(photo, box);
            image chip;
            extract_image_chip(photo, get_face_chip_details(shape, 150, 0.25), chip);
            const matrix<float, 0, 1> descriptor = engine->net(chip);
            for (long d = 0; d < descriptor.size() && d < ENFACE_DESCRIPTOR_DIMENSION; ++d) face.descriptor[d] = descriptor(d);
        }
        report->describe_ms = since(started);
        return int(kept.size());
    } catch (const std::exception &e) {
        say(error, error_capacity, e.what());
        return ENFACE_FAILED;
    }
}
