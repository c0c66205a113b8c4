"""Datasets: InHARD's layouts and protocol, data selection and splits, windows."""
