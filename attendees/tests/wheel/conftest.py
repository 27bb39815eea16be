def pytest_configure(config):
    config.addinivalue_line(
        "markers",
        "packaging: builds the wheel and installs it into a fresh virtualenv; "
        "runs only with ATTENDEES_TEST_PACKAGING=1 or CI=true",
    )
