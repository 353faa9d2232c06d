//! `--device auto|cpu|cuda`: where the launcher decodes, detects, tracks and masks video.
//!
//! * CUDA path: `decodebin` (NVDEC decoders first: `nvh264dec`, `nvh265dec`, ...) `!
//!   cudaupload ! cudaconvert ! video/x-raw(memory:CUDAMemory),format=<8-bit>` → the
//!   redaction elements in CUDA memory → `cudadownload ! video/x-raw` → the encoder on the
//!   host. A codec NVDEC cannot decode is decoded in software and uploaded once by
//!   `cudaupload`; 10-bit frames are converted to 8-bit on the GPU by `cudaconvert`.
//! * CPU path: `decodebin ! videoconvert` → the elements in system memory → `videoconvert`.
//!   `--device cpu` also keeps hardware decoders out, so that nothing touches a GPU.
//!
//! Images always take the CPU path (one frame: uploading it costs more than it saves).

use gst::prelude::*;

use crate::pipeline::make;

/// What the user asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Device {
    /// The GPU when CUDA, the kernels and GStreamer's CUDA elements are usable, else the CPU.
    #[default]
    Auto,
    Cpu,
    /// The GPU or a clear error.
    Cuda,
}

impl Device {
    /// The value of the elements' `device` property.
    pub fn nick(self) -> &'static str {
        match self {
            Device::Auto => "auto",
            Device::Cpu => "cpu",
            Device::Cuda => "cuda",
        }
    }
}

/// Where a video's frames live between decoder and encoder.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VideoPath {
    System,
    Cuda,
}

/// GStreamer's CUDA elements the GPU path needs (gstreamer1.0-plugins-bad, registered
/// only where a CUDA driver is present).
const CUDA_ELEMENTS: [&str; 3] = ["cudaupload", "cudaconvert", "cudadownload"];

/// Why the GPU path cannot run here, or `None` when it can.
pub fn cuda_unusable() -> Option<String> {
    if let Err(e) = redact_elements::cuda::usable() {
        return Some(e.to_string());
    }
    if !redact_elements::cuda::kernels_built() {
        return Some(redact_elements::cuda::NO_KERNELS.to_string());
    }
    let missing: Vec<&str> = CUDA_ELEMENTS
        .into_iter()
        .filter(|f| gst::ElementFactory::find(f).is_none())
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "GStreamer's CUDA elements are missing ({}): install gstreamer1.0-plugins-bad",
            missing.join(", ")
        )
    })
}

/// The path for videos. `Auto` takes the GPU when it can; a GPU that is present but
/// cannot be used (e.g. missing elements) comes back as a note for the user.
pub fn video_path(device: Device) -> Result<(VideoPath, Option<String>), String> {
    match device {
        Device::Cpu => Ok((VideoPath::System, None)),
        Device::Cuda => match cuda_unusable() {
            None => Ok((VideoPath::Cuda, None)),
            Some(why) => Err(format!(
                "--device cuda: the GPU cannot be used here: {why}; use --device auto or --device cpu"
            )),
        },
        Device::Auto => match cuda_unusable() {
            None => Ok((VideoPath::Cuda, None)),
            // No driver or no device: the CPU, quietly (the usual case without a GPU).
            Some(_) if redact_elements::cuda::driver().is_err() => Ok((VideoPath::System, None)),
            Some(why) => Ok((
                VideoPath::System,
                Some(format!("the GPU is not used: {why}")),
            )),
        },
    }
}

/// Whether a decoder factory is a hardware decoder (NVDEC, VA-API, V4L2, ...).
fn is_hardware(factory: &gst::ElementFactory) -> bool {
    factory.klass().contains("Hardware")
}

/// Orders the decoders `decodebin` tries: on the CUDA path hardware decoders first (NVDEC
/// writes CUDA memory); with `--device cpu` without them. Otherwise decodebin's ranks.
pub fn steer_decoders(decodebin: &gst::Element, device: Device, path: VideoPath) {
    let hardware_first = path == VideoPath::Cuda;
    let no_hardware = device == Device::Cpu;
    if !hardware_first && !no_hardware {
        return;
    }
    decodebin.connect("autoplug-sort", false, move |values| {
        let factories = values.get(3)?.get::<gst::glib::ValueArray>().ok()?;
        let mut list: Vec<gst::ElementFactory> = factories
            .iter()
            .filter_map(|v| v.get::<gst::ElementFactory>().ok())
            .collect();
        if no_hardware {
            list.retain(|f| !is_hardware(f));
        } else {
            // Stable: the ranks still order each group.
            list.sort_by_key(|f| !is_hardware(f));
        }
        let sorted = gst::glib::ValueArray::new(list.iter().map(|f| f.to_value()));
        Some(sorted.to_value())
    });
}

/// The caps the redaction elements get on the CUDA path: the 8-bit formats they read.
fn cuda_input_caps() -> gst::Caps {
    redact_elements::cuda::element::readable_cuda_caps()
}

/// Adds the elements between a decoder's raw video and the first redaction element;
/// returns the first and last. CUDA: upload (a no-op for CUDA memory), conversion to an
/// 8-bit format; system: videoconvert, then videoflip turning the picture the way the
/// file's rotation tag (phones) says it is shown — detection sees upright faces and the
/// output, which carries no rotation, plays as the input did — then videoconvert again
/// (each a pass-through when there is nothing to do).
pub fn add_input_chain(
    pipeline: &gst::Pipeline,
    path: VideoPath,
) -> Result<(gst::Element, gst::Element), String> {
    match path {
        VideoPath::System => {
            let convert = make("videoconvert")?;
            let flip = gst::ElementFactory::make("videoflip")
                .property_from_str("video-direction", "auto")
                .build()
                .map_err(|e| e.to_string())?;
            let convert_after = make("videoconvert")?;
            pipeline
                .add_many([&convert, &flip, &convert_after])
                .map_err(|e| e.to_string())?;
            gst::Element::link_many([&convert, &flip, &convert_after])
                .map_err(|e| e.to_string())?;
            Ok((convert, convert_after))
        }
        VideoPath::Cuda => {
            let upload = make("cudaupload")?;
            let convert = make("cudaconvert")?;
            let caps = gst::ElementFactory::make("capsfilter")
                .property("caps", cuda_input_caps())
                .build()
                .map_err(|e| e.to_string())?;
            pipeline
                .add_many([&upload, &convert, &caps])
                .map_err(|e| e.to_string())?;
            gst::Element::link_many([&upload, &convert, &caps]).map_err(|e| e.to_string())?;
            Ok((upload, caps))
        }
    }
}

/// Adds the elements between the last redaction element and an encoder that takes system
/// memory; returns the first and last. CUDA: one download (`cudadownload` passes CUDA
/// memory through unless the caps after it ask for system memory), then videoconvert.
pub fn add_output_chain(
    pipeline: &gst::Pipeline,
    path: VideoPath,
) -> Result<(gst::Element, gst::Element), String> {
    let convert = make("videoconvert")?;
    pipeline.add(&convert).map_err(|e| e.to_string())?;
    if path == VideoPath::System {
        return Ok((convert.clone(), convert));
    }
    let download = make("cudadownload")?;
    let caps = gst::ElementFactory::make("capsfilter")
        .property("caps", gst::Caps::new_empty_simple("video/x-raw"))
        .build()
        .map_err(|e| e.to_string())?;
    pipeline
        .add_many([&download, &caps])
        .map_err(|e| e.to_string())?;
    gst::Element::link_many([&download, &caps, &convert]).map_err(|e| e.to_string())?;
    Ok((download, convert))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_is_always_the_system_path() {
        crate::pipeline::init().unwrap();
        assert_eq!(video_path(Device::Cpu).unwrap(), (VideoPath::System, None));
    }

    #[test]
    fn cuda_is_an_error_or_the_gpu_path() {
        crate::pipeline::init().unwrap();
        match (cuda_unusable(), video_path(Device::Cuda)) {
            (None, Ok((VideoPath::Cuda, None))) => {}
            (Some(why), Err(e)) => {
                assert!(e.starts_with("--device cuda: the GPU cannot be used here: "));
                assert!(e.contains(&why) && e.ends_with("use --device auto or --device cpu"));
                // Without a GPU, auto is the CPU.
                assert_eq!(video_path(Device::Auto).unwrap().0, VideoPath::System);
            }
            other => panic!("inconsistent: {other:?}"),
        }
    }

    #[test]
    fn system_chains_convert_and_turn_upright() {
        crate::pipeline::init().unwrap();
        let pipeline = gst::Pipeline::new();
        let (first, last) = add_input_chain(&pipeline, VideoPath::System).unwrap();
        // videoconvert ! videoflip (video-direction auto: rotation tags) ! videoconvert
        let flip = first
            .static_pad("src")
            .unwrap()
            .peer()
            .unwrap()
            .parent_element()
            .unwrap();
        assert_eq!(flip.factory().unwrap().name(), "videoflip");
        assert_eq!(
            flip.property_value("video-direction")
                .get::<gst_video::VideoOrientationMethod>()
                .unwrap(),
            gst_video::VideoOrientationMethod::Auto
        );
        let after = flip
            .static_pad("src")
            .unwrap()
            .peer()
            .unwrap()
            .parent_element()
            .unwrap();
        assert_eq!(after, last);
        for e in [&first, &last] {
            assert_eq!(
                e.factory().unwrap().name(),
                "videoconvert",
                "CPU input chain"
            );
        }
        let (first, last) = add_output_chain(&pipeline, VideoPath::System).unwrap();
        assert_eq!(first, last);
        assert_eq!(pipeline.children().len(), 4);
    }

    #[test]
    fn cuda_input_caps_leave_out_deep_formats() {
        crate::pipeline::init().unwrap();
        let caps = cuda_input_caps();
        let s = caps.structure(0).unwrap();
        let formats: Vec<String> = s
            .get::<gst::List>("format")
            .unwrap()
            .iter()
            .map(|v| v.get::<String>().unwrap())
            .collect();
        assert!(formats.contains(&"NV12".to_string()));
        assert!(!formats.iter().any(|f| f.starts_with("P01")));
        assert!(
            caps.features(0)
                .unwrap()
                .contains(redact_elements::cuda::CAPS_FEATURE)
        );
    }
}
