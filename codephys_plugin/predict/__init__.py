"""From a video file to a heart rate: face track → crops at the model's rate → network (bare or + head) → HR track."""

from codephys_plugin.predict.faces import FaceTrack, TrackingConfig, crop_face, hog_detector, track_face
from codephys_plugin.predict.pipeline import PredictConfig, VideoPrediction, predict_video
from codephys_plugin.predict.readers import Reader, bare_reader, head_reader, read_video
from codephys_plugin.predict.video_file import VideoInfo, read_frames, video_info, write_video

__all__ = ["FaceTrack", "PredictConfig", "Reader", "TrackingConfig", "VideoInfo", "VideoPrediction",
           "bare_reader", "crop_face", "head_reader", "hog_detector", "predict_video", "read_frames",
           "read_video", "track_face", "video_info", "write_video"]
